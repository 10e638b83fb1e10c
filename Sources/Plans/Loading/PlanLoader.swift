import Foundation
import Yams

/// The outcome of reading a plan: the plan when it has no errors, and every diagnostic found either way.
public struct PlanLoadResult: Sendable {
    public var plan: Plan?
    public var diagnostics: [Diagnostic]

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }

    /// The plan, or a `PlanValidationError` holding every problem.
    public func get() throws(PlanValidationError) -> Plan {
        guard let plan, errors.isEmpty else { throw PlanValidationError(diagnostics: diagnostics) }
        return plan
    }
}

/// Reads plan and inventory files, checks them completely and reports every problem with file, line and column.
public struct PlanLoader: Sendable {
    /// The step types plans may use, by `uses:` name.
    public var stepSchemas: [String: StepSchema]

    /// The inventory file a plan uses when it names none: `lifeboat.yaml` in the plan's folder.
    public static let defaultInventoryName = "lifeboat.yaml"

    public static let planKeys = [
        "plan", "kind", "description", "inventory", "schedule", "targets", "concurrency", "notify",
        "steps", "on_success", "on_failure",
    ]
    public static let stepKeys = ["id", "description", "uses", "with", "needs", "timeout", "retries", "on_failure"]

    public init(stepSchemas: [StepSchema]) {
        self.stepSchemas = Dictionary(stepSchemas.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: - Plans

    /// Loads a plan. `inventory` (a file) replaces the plan's own inventory (its `inventory:` or the
    /// `lifeboat.yaml` beside it): the same plan can run against another site's inventory.
    public func load(_ file: String, inventory: String? = nil) -> PlanLoadResult {
        let sink = DiagnosticSink()
        let plan = loadPlan(file, inventoryOverride: inventory, sink: sink)
        return PlanLoadResult(plan: sink.hasErrors ? nil : plan, diagnostics: sink.diagnostics)
    }

    private func loadPlan(_ file: String, inventoryOverride: String?, sink: DiagnosticSink) -> Plan? {
        guard let source = YAMLSource.load(file, what: "plan", sink: sink) else { return nil }
        guard let root = source.root else {
            sink.error(SourceLocation(file: file), "the plan file is empty",
                       hint: "a plan has at least 'plan:', 'kind:' and 'steps:'")
            return nil
        }
        guard let reader = MappingReader(root, in: source, what: "the plan", sink: sink) else { return nil }
        reader.checkKeys(Self.planKeys, what: "the plan", sink: sink)
        reader.require(["plan", "kind", "steps"], what: "the plan", sink: sink)

        // The inventory comes first: step parameters refer to its names.
        let inventory: Inventory?
        if let inventoryOverride {
            if FileManager.default.fileExists(atPath: inventoryOverride) {
                inventory = loadInventory(inventoryOverride, sink: sink)
            } else {
                sink.error(SourceLocation(file: inventoryOverride), "inventory file '\(inventoryOverride)' does not exist")
                inventory = nil
            }
        } else {
            inventory = resolveInventory(reader, planFile: file, sink: sink)
        }
        let values = ValueDecoder(source: source, sink: sink, inventory: inventory)

        var name = ""
        if let node = reader["plan"] {
            if let text = node.text, Self.isIdentifier(text) {
                name = text
            } else {
                sink.error(source.location(node), "'plan' must be a name of letters, digits, '-' and '_', found \(node.kindName)")
            }
        }
        var kind = PlanKind.backup
        if let node = reader["kind"] {
            if let text = node.text, let parsed = PlanKind(rawValue: text) {
                kind = parsed
            } else {
                let found = node.text ?? node.kindName
                sink.error(source.location(node), "'kind' must be one of backup, drill, failover, found '\(found)'",
                           hint: node.text.flatMap { Suggestion.closest(to: $0, in: PlanKind.allCases.map(\.rawValue)) }
                               .map { "did you mean '\($0)'?" })
            }
        }
        var description: String?
        if let node = reader["description"] {
            description = node.text
            if description == nil { sink.error(source.location(node), "'description' must be text, found \(node.kindName)") }
        }
        let schedule = reader["schedule"].flatMap { decodeSchedule($0, source: source, sink: sink) }
        var targets: Targets?
        if let node = reader["targets"],
           let fields = values.decodeFields(node, specs: [ParameterSpec("rpo", .duration), ParameterSpec("rto", .duration)],
                                            what: "'targets'") {
            targets = Targets(rpo: fields["rpo"]?.durationValue, rto: fields["rto"]?.durationValue)
        }
        var notify: [NotifyRoute] = []
        if let node = reader["notify"],
           let routes = values.decode(node, as: .list(.object(NotifyRoute.fields)), name: "notify")?.listValue {
            for (position, route) in routes.enumerated() {
                let channels = route["channels"]?.listValue?.compactMap(\.referenceName) ?? []
                let events = route["events"]?.listValue?.compactMap { $0.stringValue?.literalValue } ?? ["*"]
                let location = node.sequence.map { source.location($0[position]) } ?? source.location(node)
                for event in events where !NotifyRoute.isKnown(event) {
                    sink.error(location, "unknown event '\(event)' in 'notify'",
                               hint: Suggestion.closest(to: event, in: NotifyRoute.events).map { "did you mean '\($0)'?" }
                                   ?? "events: " + NotifyRoute.events.joined(separator: ", ") + ", or patterns like run.*")
                }
                if channels.isEmpty { sink.error(location, "a 'notify' route needs 'channels'") }
                notify.append(NotifyRoute(channels: channels, events: events))
            }
        }
        var concurrency: Int?
        if let node = reader["concurrency"] {
            concurrency = values.decode(node, as: .integer(1...64), name: "concurrency")?.integerValue
        }

        var seenIds: [String: SourceLocation] = [:]
        let steps = decodeSteps(reader["steps"], list: "steps", source: source, values: values, seenIds: &seenIds,
                                sink: sink, requireNonEmpty: true)
        let onSuccess = decodeSteps(reader["on_success"], list: "on_success", source: source, values: values,
                                    seenIds: &seenIds, sink: sink, requireNonEmpty: false)
        let onFailure = decodeSteps(reader["on_failure"], list: "on_failure", source: source, values: values,
                                    seenIds: &seenIds, sink: sink, requireNonEmpty: false)

        var plan = Plan(name: name, kind: kind, description: description, file: file, inventory: inventory ?? .empty,
                        schedule: schedule, targets: targets, concurrency: concurrency, steps: steps,
                        onSuccess: onSuccess, onFailure: onFailure)
        plan.notify = notify
        return plan
    }

    private func resolveInventory(_ reader: MappingReader, planFile: String, sink: DiagnosticSink) -> Inventory? {
        let folder = (planFile as NSString).deletingLastPathComponent
        if let node = reader["inventory"] {
            guard let path = node.text else {
                sink.error(reader.source.location(node), "'inventory' must be a file path, found \(node.kindName)")
                return nil
            }
            let resolved = path.hasPrefix("/") ? path : (folder.isEmpty ? path : folder + "/" + path)
            guard FileManager.default.fileExists(atPath: resolved) else {
                sink.error(reader.source.location(node), "inventory file '\(resolved)' does not exist",
                           hint: "paths are relative to the plan's folder")
                return nil
            }
            return loadInventory(resolved, sink: sink)
        }
        let beside = folder.isEmpty ? Self.defaultInventoryName : folder + "/" + Self.defaultInventoryName
        if FileManager.default.fileExists(atPath: beside) {
            return loadInventory(beside, sink: sink)
        }
        return .empty
    }

    private func decodeSchedule(_ node: Node, source: YAMLSource, sink: DiagnosticSink) -> Schedule? {
        guard let reader = MappingReader(node, in: source, what: "'schedule'", sink: sink) else { return nil }
        reader.checkKeys(["cron", "timezone", "missed", "overlap", "jitter"], what: "'schedule'", sink: sink)
        reader.require(["cron"], what: "'schedule'", sink: sink)
        var cron: CronExpression?
        if let cronNode = reader["cron"] {
            if let text = cronNode.text {
                do {
                    cron = try CronExpression(parsing: text)
                } catch {
                    sink.error(source.location(cronNode), error.message,
                               hint: "e.g. \"30 2 * * *\" (02:30 every day) or @daily; quote expressions that start with *")
                }
            } else {
                sink.error(source.location(cronNode), "'cron' must be a cron expression, found \(cronNode.kindName)")
            }
        }
        var timeZone: String?
        if let zoneNode = reader["timezone"] {
            if let text = zoneNode.text, TimeZone(identifier: text) != nil, text.contains("/") || text == "UTC" {
                timeZone = text
            } else {
                let text = zoneNode.text ?? ""
                sink.error(source.location(zoneNode), "unknown time zone '\(text)'",
                           hint: Suggestion.closest(to: text, in: TimeZone.knownTimeZoneIdentifiers)
                               .map { "did you mean '\($0)'?" } ?? "use an IANA name such as Europe/Berlin or UTC")
            }
        }
        var schedule = Schedule(cron: cron ?? CronExpression.never, timeZone: timeZone)
        for (key, choices) in [("missed", ["skip", "run-once"]), ("overlap", ["forbid", "queue"])] {
            guard let valueNode = reader[key] else { continue }
            guard let text = valueNode.text, choices.contains(text) else {
                sink.error(source.location(valueNode), "'\(key)' must be one of \(choices.joined(separator: ", ")), found '\(valueNode.text ?? valueNode.kindName)'")
                continue
            }
            if key == "missed" { schedule.missed = Schedule.Missed(rawValue: text)! } else { schedule.overlap = Schedule.Overlap(rawValue: text)! }
        }
        if let jitterNode = reader["jitter"] {
            if let text = jitterNode.text, let duration = PlanDuration(parsing: text) {
                schedule.jitter = duration
            } else {
                sink.error(source.location(jitterNode), "bad duration '\(jitterNode.text ?? "")' for 'jitter'",
                           hint: "e.g. 5m")
            }
        }
        guard cron != nil else { return nil }
        return schedule
    }

    // MARK: - Steps

    private func decodeSteps(
        _ node: Node?, list: String, source: YAMLSource, values: ValueDecoder,
        seenIds: inout [String: SourceLocation], sink: DiagnosticSink, requireNonEmpty: Bool
    ) -> [Step] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            sink.error(source.location(node), "'\(list)' must be a list of steps, found \(node.kindName)",
                       hint: "each step starts with '- id: ...'")
            return []
        }
        if requireNonEmpty && sequence.isEmpty {
            sink.error(source.location(node), "'\(list)' is empty: a plan needs at least one step")
        }
        var steps: [Step] = []
        for item in sequence {
            if let step = decodeStep(item, list: list, source: source, values: values, seenIds: &seenIds, sink: sink) {
                steps.append(step)
            }
        }
        checkNeeds(steps, list: list, source: source, sink: sink)
        return steps
    }

    private func decodeStep(
        _ node: Node, list: String, source: YAMLSource, values: ValueDecoder,
        seenIds: inout [String: SourceLocation], sink: DiagnosticSink
    ) -> Step? {
        guard let reader = MappingReader(node, in: source, what: "a step", sink: sink) else { return nil }
        let idText = reader["id"]?.text
        let what = idText.map { "step '\($0)'" } ?? "a step in '\(list)'"
        reader.checkKeys(Self.stepKeys, what: what, sink: sink)
        reader.require(["id", "uses"], what: what, sink: sink)
        var ok = true

        var id = ""
        if let idNode = reader["id"] {
            if let text = idNode.text, Self.isIdentifier(text) {
                id = text
                if let first = seenIds[text] {
                    sink.error(source.location(idNode), "duplicate step id '\(text)'",
                               hint: "first used at \(first); step ids must be unique in a plan")
                    ok = false
                } else {
                    seenIds[text] = source.location(idNode)
                }
            } else {
                sink.error(source.location(idNode), "a step id must be a name of letters, digits, '-' and '_', "
                    + "found \(idNode.kindName)")
                ok = false
            }
        }

        var uses = ""
        var parameters: [String: ParameterValue] = [:]
        if let usesNode = reader["uses"] {
            if let text = usesNode.text, let schema = stepSchemas[text] {
                uses = text
                if let withNode = reader["with"] {
                    if let decoded = values.decodeFields(withNode, specs: schema.parameters,
                                                         what: "'with' of \(what) (\(text))") {
                        parameters = decoded
                    } else {
                        ok = false
                    }
                } else if let missing = schema.parameters.first(where: \.required) {
                    sink.error(source.location(node), "\(what) (\(text)) is missing the required parameter "
                        + "'\(missing.name)' (\(missing.type.summary))",
                        hint: schema.example.map { "e.g.\n\($0)" })
                    ok = false
                }
            } else {
                let text = usesNode.text ?? usesNode.kindName
                sink.error(source.location(usesNode), "unknown step type '\(text)'",
                           hint: Suggestion.hint(for: text, in: Array(stepSchemas.keys), noun: "step types"))
                ok = false
            }
        }

        var needs: [String] = []
        if let needsNode = reader["needs"] {
            if let single = needsNode.text {
                needs = [single]
            } else if case .sequence(let sequence) = needsNode, sequence.allSatisfy({ $0.text != nil }) {
                needs = sequence.compactMap(\.text)
            } else {
                sink.error(source.location(needsNode), "'needs' must be a step id or a list of step ids, found \(needsNode.kindName)")
                ok = false
            }
        }

        var timeout: PlanDuration?
        if let timeoutNode = reader["timeout"] {
            timeout = values.decode(timeoutNode, as: .duration, name: "timeout")?.durationValue
            if timeout == nil { ok = false }
            if let value = timeout, value.milliseconds <= 0 {
                sink.error(source.location(timeoutNode), "'timeout' must be longer than 0s")
                ok = false
            }
        }

        var retries = RetryPolicy.none
        if let retriesNode = reader["retries"] {
            if let decoded = decodeRetries(retriesNode, source: source, values: values, sink: sink) {
                retries = decoded
            } else {
                ok = false
            }
        }

        var onFailure = FailureMode.stop
        if let failureNode = reader["on_failure"] {
            if let mode = values.decode(failureNode, as: .choice(["stop", "continue"]), name: "on_failure")?
                .stringValue?.literalValue.flatMap(FailureMode.init(rawValue:)) {
                onFailure = mode
            } else {
                ok = false
            }
        }

        guard ok else { return nil }
        return Step(id: id, uses: uses, parameters: parameters, needs: needs, timeout: timeout, retries: retries,
                    onFailure: onFailure, location: source.location(node))
    }

    private func decodeRetries(_ node: Node, source: YAMLSource, values: ValueDecoder, sink: DiagnosticSink) -> RetryPolicy? {
        if node.tagName == .int {
            guard let count = values.decode(node, as: .integer(0...100), name: "retries")?.integerValue else { return nil }
            return RetryPolicy(count: count)
        }
        guard case .mapping = node else {
            sink.error(source.location(node), "'retries' must be a number or {count, backoff, max_backoff}, found \(node.kindName)")
            return nil
        }
        let specs = [
            ParameterSpec("count", .integer(0...100), required: true),
            ParameterSpec("backoff", .duration),
            ParameterSpec("max_backoff", .duration),
        ]
        guard let fields = values.decodeFields(node, specs: specs, what: "'retries'") else { return nil }
        var policy = RetryPolicy(count: fields["count"]?.integerValue ?? 0)
        if let backoff = fields["backoff"]?.durationValue { policy.backoff = backoff }
        if let maxBackoff = fields["max_backoff"]?.durationValue { policy.maxBackoff = maxBackoff }
        if policy.maxBackoff < policy.backoff { policy.maxBackoff = policy.backoff }
        return policy
    }

    private func checkNeeds(_ steps: [Step], list: String, source: YAMLSource, sink: DiagnosticSink) {
        let ids = steps.map(\.id)
        var valid: [Step] = []
        for step in steps {
            var cleaned = step
            for need in step.needs where !ids.contains(need) || need == step.id {
                if need == step.id {
                    sink.error(step.location, "step '\(step.id)' needs itself")
                } else {
                    sink.error(step.location, "step '\(step.id)' needs '\(need)', which is not a step in '\(list)'",
                               hint: Suggestion.closest(to: need, in: ids).map { "did you mean '\($0)'?" })
                }
                cleaned.needs.removeAll { $0 == need }
            }
            valid.append(cleaned)
        }
        for cycle in StepGraph(valid).cycles {
            let first = valid.first { $0.id == cycle.first }!
            sink.error(first.location, "the steps \(cycle.joined(separator: " → ")) need each other in a cycle",
                       hint: "remove one of these 'needs' so that the steps can run in some order")
        }
    }

    // MARK: - Inventory

    /// Reads an inventory file on its own (used by plans, and by `plan check` on a `lifeboat.yaml`).
    public func loadInventory(_ file: String) -> (inventory: Inventory?, diagnostics: [Diagnostic]) {
        let sink = DiagnosticSink()
        let inventory = loadInventory(file, sink: sink)
        return (sink.hasErrors ? nil : inventory, sink.diagnostics)
    }

    private func loadInventory(_ file: String, sink: DiagnosticSink) -> Inventory? {
        guard let source = YAMLSource.load(file, what: "inventory", sink: sink) else { return nil }
        guard let root = source.root else { return Inventory(file: file) }
        guard let reader = MappingReader(root, in: source, what: "the inventory", sink: sink) else { return nil }
        reader.checkKeys(InventoryKind.allCases.map(\.rawValue), what: "the inventory", sink: sink)
        let values = ValueDecoder(source: source, sink: sink, inventory: nil)
        var inventory = Inventory(file: file)
        for kind in InventoryKind.allCases {
            guard let section = reader[kind.rawValue] else { continue }
            guard let entries = MappingReader(section, in: source, what: "'\(kind.rawValue)'", sink: sink) else { continue }
            var byName: [String: InventoryEntry] = [:]
            for entry in entries.entries {
                guard Self.isIdentifier(entry.key) else {
                    sink.error(source.location(entry.keyNode), "'\(entry.key)' is not a valid \(kind.noun) name",
                               hint: "use letters, digits, '-' and '_'")
                    continue
                }
                let what = "\(kind.noun) '\(entry.key)'"
                if let fields = values.decodeFields(entry.value, specs: InventorySchemas.fields(for: kind), what: what) {
                    byName[entry.key] = InventoryEntry(kind: kind, name: entry.key, fields: fields,
                                                       location: source.location(entry.keyNode))
                }
            }
            inventory.entries[kind] = byName
        }
        return inventory
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || first.decimalDigit != nil
        else { return false }
        return text.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || $0.decimalDigit != nil || $0 == "-" || $0 == "_" || $0 == ".")
        }
    }
}
