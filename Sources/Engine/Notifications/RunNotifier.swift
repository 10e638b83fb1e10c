import Foundation
import Logging
import Notify
import Plans
import Synchronization
import LifeboatCore

/// Tells people about a run while it goes on: each event goes to the channels the plan's `notify:` routes it to,
/// delivered on threads of their own (never holding up a step), each (event, step, channel) once per run. Every
/// delivery is recorded in the catalog. A channel that stays down is reported; it fails the run only when the
/// inventory marks it `required`.
public final class RunNotifier: Sendable {
    let plan: Plan
    let runId: String
    let secrets: SecretResolver
    let catalog: Catalog
    let logger: Logger
    let deliverer: Deliverer
    private let pending = Mutex<[Task<Void, Never>]>([])
    private let sent = Mutex<Set<String>>([])
    private let outcomes = Mutex<[(DeliveryOutcome, required: Bool)]>([])

    init(plan: Plan, runId: String, secrets: SecretResolver, catalog: Catalog, logger: Logger,
         deliverer: Deliverer = Deliverer()) {
        self.plan = plan
        self.runId = runId
        self.secrets = secrets
        self.catalog = catalog
        self.logger = logger
        self.deliverer = deliverer
    }

    var drill: Bool { plan.kind == .drill }

    func event(_ kind: EventKind, summary: String, details: [String] = [], fields: [String: String] = [:],
               failure: Bool = false) -> NotificationEvent {
        NotificationEvent(kind: kind, plan: plan.name, runId: runId, drill: drill, summary: summary, details: details,
                          fields: fields, failure: failure)
    }

    /// Sends an event to the channels routed for it, in the background.
    public func emit(_ kind: EventKind, summary: String, details: [String] = [], fields: [String: String] = [:],
                     failure: Bool = false) {
        let channels = Set(plan.notify.filter { $0.matches(kind.rawValue) }.flatMap(\.channels))
        guard !channels.isEmpty else { return }
        let event = event(kind, summary: summary, details: details, fields: fields, failure: failure)
        for name in channels.sorted() {
            let key = [kind.rawValue, fields["step"] ?? "", name].joined(separator: "\u{0}")
            guard sent.withLock({ $0.insert(key).inserted }) else { continue }
            let action = pagerDutyAction(kind)
            let task = Task { _ = await self.deliver(event, to: name, action: action, dedupKey: action == nil ? nil : runId) }
            pending.withLock { $0.append(task) }
        }
        if kind == .runSucceeded && !drill { resolveOpenIncidents() }
    }

    /// Sends a message now to `channels` and waits for the outcome (the `notify` step).
    func send(_ event: NotificationEvent, to channels: [String]) async -> [(DeliveryOutcome, required: Bool)] {
        var results: [(DeliveryOutcome, Bool)] = []
        for name in channels { results.append(await deliver(event, to: name, action: nil, dedupKey: nil)) }
        return results
    }

    /// Waits (at most `timeout`) for the deliveries still going on; returns every outcome of the run.
    func finish(timeout: TimeInterval = 120) async -> [(DeliveryOutcome, required: Bool)] {
        let tasks = pending.withLock { $0 }
        let deadline = Date().addingTimeInterval(timeout)
        for task in tasks {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else {
                task.cancel()
                continue
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await task.value }
                group.addTask { try? await Task.sleep(for: .seconds(remaining)) }
                await group.next()
                group.cancelAll()
            }
        }
        return outcomes.withLock { $0 }
    }

    /// Drills never page; real failures open a PagerDuty incident keyed by the run id; other news is a change event.
    private func pagerDutyAction(_ kind: EventKind) -> String? {
        guard !drill else { return nil }
        switch kind {
        case .runFailed, .stepFailed, .rpoBreached: return "trigger"
        default: return nil
        }
    }

    /// A success of this plan closes the incidents its earlier failed runs opened.
    private func resolveOpenIncidents() {
        guard let open = try? catalog.openIncidents(plan: plan.name), !open.isEmpty else { return }
        for (channel, key) in open {
            var resolved = event(.runSucceeded, summary: "plan \(plan.name) succeeded again; resolving run \(key)")
            resolved.fields["dedup_key"] = key
            let task = Task { _ = await self.deliver(resolved, to: channel, action: "resolve", dedupKey: key) }
            pending.withLock { $0.append(task) }
        }
    }

    private func deliver(_ event: NotificationEvent, to name: String, action: String?, dedupKey: String?) async
        -> (DeliveryOutcome, required: Bool) {
        var outcome = DeliveryOutcome(channel: name, event: event.kind.rawValue, delivered: false, attempts: 0,
                                      httpStatus: nil, error: nil, seconds: 0)
        var required = false
        do {
            guard let entry = plan.inventory.entry(.channels, name) else {
                throw LifeboatError(.invalidInput, "no channel '\(name)' in the inventory")
            }
            let channel = try ChannelBuilder.build(entry, secrets: secrets)
            required = channel.required
            // A PagerDuty action only applies to PagerDuty; other channels get the event as it is.
            let channelAction = channel.kind == .pagerduty ? action : nil
            let deliverer = self.deliverer
            outcome = try await Blocking.run { stop in
                deliverer.deliver(event, to: channel, pagerDutyAction: channelAction, shouldStop: { stop.isSet })
            }
        } catch {
            outcome.error = "\(error)"
        }
        outcome.error = outcome.error.map { secrets.redactor.redact($0) }
        if outcome.delivered {
            logger.info("notified \(name) of \(event.kind.rawValue) (\(outcome.attempts) attempt\(outcome.attempts == 1 ? "" : "s"))")
        } else {
            logger.warning("could not notify \(name) of \(event.kind.rawValue) after \(outcome.attempts) attempts: \(outcome.error ?? "")")
        }
        let isPagerDuty = plan.inventory.entry(.channels, name)?.fields["type"]?.stringValue?.literalValue == "pagerduty"
        let record = DeliveryRecord(runId: runId, plan: plan.name, channel: name, event: event.kind.rawValue,
                                    action: isPagerDuty ? action : nil, dedupKey: isPagerDuty ? dedupKey : nil,
                                    delivered: outcome.delivered, attempts: outcome.attempts,
                                    httpStatus: outcome.httpStatus, error: outcome.error, createdAt: Date())
        try? catalog.insert(record)
        outcomes.withLock { $0.append((outcome, required)) }
        return (outcome, required)
    }
}
