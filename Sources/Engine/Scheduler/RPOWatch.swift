import Foundation
import GRDB
import Logging
import Notify
import Plans
import LifeboatCore

/// Checks every inventory database's RPO exposure (age of the newest archived WAL, or of the newest backup) against
/// its `rpo` target and tells its `notify` channels once per transition: `rpo.breached`, then `rpo.recovered`. The
/// state survives restarts (catalog), so a restart does not repeat a notification.
public final class RPOWatch: Sendable {
    let catalog: Catalog
    let plansFolder: String
    let logger: Logger
    let environment: [String: String]
    let deliverer: Deliverer

    public init(catalog: Catalog, plansFolder: String, logger: Logger,
                environment: [String: String] = ProcessInfo.processInfo.environment, deliverer: Deliverer = Deliverer()) {
        self.catalog = catalog
        self.plansFolder = plansFolder
        self.logger = logger
        self.environment = environment
        self.deliverer = deliverer
    }

    /// The inventory: `LIFEBOAT_INVENTORY`, else `lifeboat.yaml` in the plans folder.
    func inventory() -> Inventory? {
        Self.inventory(plansFolder: plansFolder, environment: environment)
    }

    static func inventory(plansFolder: String, environment: [String: String]) -> Inventory? {
        let file = EnvironmentVariable.inventory.value(in: environment)
            ?? (plansFolder as NSString).appendingPathComponent(PlanLoader.defaultInventoryName)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return StepRegistry.standard.loader.loadInventory(file).inventory
    }

    /// One check of every database; `exposures` replaces reading the repositories (tests). The targets and the
    /// verdict are ``RecoveryStatus``'s, as `lifeboat status` shows them.
    public func check(now: Date = Date(), exposures: [String: Double?]? = nil) async {
        guard let inventory = inventory() else { return }
        let secrets = SecretResolver(environment: environment, redactor: Redactor())
        let status: RecoveryStatus
        do {
            if let exposures {
                let positions = exposures.map { DatabasePosition(database: $0.key, exposure: $0.value) }
                status = RecoveryStatus.decide(inventory, positions: positions, drills: try catalog.drills(limit: 500),
                                               syncStates: [], now: now)
            } else {
                status = try RecoveryStatus.current(inventory, catalog: catalog, secrets: secrets, now: now)
            }
        } catch {
            logger.error("RPO watch: cannot read the catalog, no check this time: \(error)")
            return
        }
        for database in status.databases {
            let name = database.database
            guard let entry = inventory.entry(.databases, name) else { continue }
            let target = database.rpoTargetSeconds
            let exposure = database.rpoExposureSeconds
            let breached = !database.rpoWithinTarget
            let wasBreached: Bool?
            do {
                wasBreached = try catalog.read { db in
                    try Bool.fetchOne(db, sql: "SELECT breached FROM rpo_state WHERE database = ?", arguments: [name])
                }
                if wasBreached != breached {
                    try catalog.write { db in
                        try db.execute(sql: "INSERT OR REPLACE INTO rpo_state (database, breached, since) VALUES (?, ?, ?)",
                                       arguments: [name, breached, now])
                    }
                }
            } catch {
                // Without the last state a transition cannot be told: say nothing rather than repeat or miss one.
                logger.error("RPO watch: cannot read or record the state of \(name): \(error)")
                continue
            }
            guard wasBreached != breached else { continue }
            // The first check of a healthy database is not news.
            if wasBreached == nil && !breached { continue }
            let exposureText = exposure.map { Formatted.duration($0) } ?? "unknown (no backup)"
            let event = NotificationEvent(
                kind: breached ? .rpoBreached : .rpoRecovered, plan: name, runId: "rpo-watch", drill: false,
                summary: breached
                    ? "\(name): RPO exposure \(exposureText) exceeds the target of \(Formatted.duration(target))"
                    : "\(name): RPO exposure \(exposureText) is back within the target of \(Formatted.duration(target))",
                fields: ["database": name, "exposure": exposureText, "target": Formatted.duration(target)],
                time: now, failure: breached)
            logger.notice("\(event.summary)")
            let channels = (entry.fields["notify"]?.listValue ?? []).compactMap { $0.stringValue?.literalValue }
            for channelName in channels {
                await send(event, to: channelName, inventory: inventory, secrets: secrets)
            }
        }
    }

    private func send(_ event: NotificationEvent, to name: String, inventory: Inventory, secrets: SecretResolver) async {
        var outcome = DeliveryOutcome(channel: name, event: event.kind.rawValue, delivered: false, attempts: 0,
                                      httpStatus: nil, error: nil, seconds: 0)
        var action: String?
        do {
            guard let entry = inventory.entry(.channels, name) else {
                throw LifeboatError(.invalidInput, "no channel '\(name)' in the inventory")
            }
            let channel = try ChannelBuilder.build(entry, secrets: secrets)
            action = channel.kind == .pagerduty ? (event.kind == .rpoBreached ? "trigger" : "resolve") : nil
            var copy = event
            copy.fields["dedup_key"] = "rpo-" + event.plan
            let keyed = copy, deliverer = self.deliverer, chosen = action
            outcome = try await Blocking.run { _ in deliverer.deliver(keyed, to: channel, pagerDutyAction: chosen) }
        } catch {
            outcome.error = "\(error)"
        }
        if !outcome.delivered { logger.warning("could not notify \(name) of \(event.kind.rawValue): \(outcome.error ?? "")") }
        try? catalog.insert(DeliveryRecord(runId: "rpo-watch", plan: event.plan, channel: name, event: event.kind.rawValue,
                                           action: action, dedupKey: action == nil ? nil : "rpo-" + event.plan,
                                           delivered: outcome.delivered, attempts: outcome.attempts,
                                           httpStatus: outcome.httpStatus, error: outcome.error, createdAt: Date()))
    }
}
