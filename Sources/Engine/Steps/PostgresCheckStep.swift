import Foundation
import Plans
import Postgres
import Synchronization
import LifeboatCore

/// `postgres.check` (drills): SQL checks against the server a `postgres.restore` step restored, each with an
/// expectation, and optionally `amcheck` of every B-tree index. Every result is evidence in the drill report; the
/// step fails when any check fails (after running them all).
enum PostgresCheckStep {
    static let checkFields = [
        ParameterSpec("name", .string, required: true),
        ParameterSpec("sql", .string, required: true, "a query; its first column of its first row is the result"),
        ParameterSpec("equals", .string, "the result must be exactly this text"),
        ParameterSpec("at_least", .integer(Int.min...Int.max), "the result, a number, must be at least this"),
        ParameterSpec("at_most", .integer(Int.min...Int.max), "the result, a number, must be at most this"),
        ParameterSpec("non_empty", .boolean, "the query must return at least one row"),
        ParameterSpec("matches_source", .boolean, "the same rows as the same query on the source (when reachable)"),
    ]

    static let schema = StepSchema(
        name: "postgres.check",
        summary: "run SQL checks (and amcheck) against the server a postgres.restore step restored",
        parameters: [
            ParameterSpec("restore", .string, "the id of the postgres.restore step (default: the only one)"),
            ParameterSpec("database", .reference(.databases), "check this inventory database instead of a restored one (health checks)"),
            ParameterSpec("writable", .boolean, "the server must accept writes (not in recovery, not read-only)"),
            ParameterSpec("until", .duration, "retry the checks until they pass or this long has passed (default: once)"),
            ParameterSpec("dbname", .string, "the database to check on the restored server (default: the inventory database's)"),
            ParameterSpec("checks", .list(.object(checkFields)), "each {name, sql} and one of equals, at_least, at_most, non_empty, matches_source"),
            ParameterSpec("amcheck", .boolean, "check every B-tree index with amcheck's bt_index_check"),
        ],
        example: "    with: { checks: [ { name: orders exist, sql: \"SELECT count(*) FROM orders\", at_least: 1 } ], amcheck: true }"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    struct Check: Sendable {
        var name: String
        var sql: String
        var expectation: Expectation
    }

    enum Expectation: Sendable {
        case equals(String)
        case atLeast(Int)
        case atMost(Int)
        case nonEmpty
        case matchesSource

        var text: String {
            switch self {
            case .equals(let value): "equals \(value)"
            case .atLeast(let value): "at_least \(value)"
            case .atMost(let value): "at_most \(value)"
            case .nonEmpty: "non_empty"
            case .matchesSource: "matches_source"
            }
        }
    }

    static func run(_ context: StepContext) async throws {
        if context.step.parameters["database"] != nil { return try await health(context) }
        let restoreStep = try context.string("restore")
        guard let scratch = context.session.scratchServer(step: restoreStep) else {
            throw LifeboatError(.invalidInput, restoreStep.map { "step '\($0)' restored no server in this run" }
                ?? "no single postgres.restore step ran before this check",
                hint: "let this step `needs:` the restore step, and name it in `restore:` when there are several")
        }
        let databaseEntry = context.plan.inventory.entry(.databases, scratch.database)
        let sourceConninfo = try databaseEntry.map { try Conninfo.build($0, secrets: context.secrets) }
        let dbname = try context.string("dbname")
            ?? databaseEntry?.fields["dbname"]?.stringValue.map { try context.secrets.resolve($0) } ?? "postgres"
        let checks = try parseChecks(context)
        let amcheck = context.step.parameters["amcheck"]?.booleanValue ?? false
        guard !checks.isEmpty || amcheck || context.step.parameters["writable"]?.booleanValue == true else {
            throw LifeboatError(.invalidInput, "step '\(context.step.id)' has no checks and no amcheck")
        }
        guard let conninfo = scratch.server.conninfo(database: dbname) else {
            throw LifeboatError(.runFailed, "the scratch server of step '\(scratch.step)' is not running")
        }
        let step = context.step.id
        let session = context.session
        let output = context.output
        let canceller = Mutex<QueryCanceller?>(nil)
        let results = try await Blocking.run(onCancel: { canceller.withLock { $0?.cancelQuery() } }) { stop -> [CheckEvidence] in
            let restored = try PostgresConnection(conninfo: conninfo)
            defer { restored.close() }
            canceller.withLock { $0 = restored.canceller() }
            var results: [CheckEvidence] = []
            for check in checks {
                guard !stop.isSet else { throw CancellationError() }
                let started = Date()
                var evidence = evaluate(check, on: restored, sourceConninfo: sourceConninfo)
                evidence.step = step
                evidence.seconds = Date().timeIntervalSince(started)
                evidence.finishedAt = Date()
                results.append(evidence)
                session.record(evidence)
                output.note("check '\(check.name)': \(evidence.passed.map { $0 ? "PASS" : "FAIL" } ?? "UNDECIDED") "
                    + "(expected \(check.expectation.text), got \(evidence.actual))")
            }
            if amcheck {
                let started = Date()
                var evidence = CheckEvidence(step: step, name: "amcheck: every B-tree index", sql: amcheckSQL,
                                             expectation: "amcheck", actual: "", passed: nil, detail: nil, seconds: 0,
                                             finishedAt: Date())
                do {
                    try restored.query("CREATE EXTENSION IF NOT EXISTS amcheck")
                    let count = (try restored.query(amcheckSQL).scalar) ?? "0"
                    evidence.actual = "\(count) indexes intact"
                    evidence.passed = true
                } catch {
                    evidence.actual = "\(error)"
                    evidence.passed = false
                }
                evidence.seconds = Date().timeIntervalSince(started)
                evidence.finishedAt = Date()
                results.append(evidence)
                session.record(evidence)
                output.note("amcheck: \(evidence.passed == true ? "PASS" : "FAIL") (\(evidence.actual))")
            }
            return results
        }
        let failed = results.filter { $0.passed == false }
        if !failed.isEmpty {
            throw LifeboatError(.runFailed, "\(failed.count) of \(results.count) checks failed: "
                + failed.map { "'\($0.name)' expected \($0.expectation), got \($0.actual)" }.joined(separator: "; "))
        }
    }

    /// Health checks of a live database: it accepts connections (and writes, with `writable`), and the checks pass —
    /// retried every second until they do or `until` has passed.
    static func health(_ context: StepContext) async throws {
        let entry = try context.inventoryEntry(.databases, "database")
        let conninfo = try Conninfo.build(entry, secrets: context.secrets)
        let checks = try parseChecks(context).filter {
            if case .matchesSource = $0.expectation { return false }
            return true
        }
        let writable = context.step.parameters["writable"]?.booleanValue ?? false
        let until = context.step.parameters["until"]?.durationValue.map { Double($0.milliseconds) / 1000 } ?? 0
        let step = context.step.id, session = context.session
        let started = Date()
        let problems = try await Blocking.run { stop -> [String] in
            var problems: [String] = []
            repeat {
                problems = []
                var results: [CheckEvidence] = []
                if let connection = try? PostgresConnection(conninfo: conninfo + " connect_timeout=5") {
                    defer { connection.close() }
                    if writable {
                        let row = try? connection.query("SELECT pg_is_in_recovery()::text, current_setting('transaction_read_only')").rows.first
                        if !(row?[0] == "false" && row?[1] == "off") { problems.append("\(entry.name) does not accept writes yet") }
                    }
                    for check in checks {
                        var evidence = evaluate(check, on: connection, sourceConninfo: nil)
                        evidence.step = step
                        evidence.finishedAt = Date()
                        results.append(evidence)
                        if evidence.passed != true { problems.append("'\(check.name)' expected \(check.expectation.text), got \(evidence.actual)") }
                    }
                } else {
                    problems.append("\(entry.name) accepts no connections")
                }
                if problems.isEmpty || Date().timeIntervalSince(started) >= until || stop.isSet {
                    results.forEach(session.record)
                    return problems
                }
                usleep(1_000_000)
            } while true
        }
        guard problems.isEmpty else {
            throw LifeboatError(.runFailed, "\(entry.name) is not healthy" + (until > 0 ? " after \(Int(until)) s" : "") + ": "
                + problems.joined(separator: "; "))
        }
        context.output.note("\(entry.name) is healthy after \(Formatted.duration(Date().timeIntervalSince(started)))"
            + (writable ? " (accepts writes)" : "") + (checks.isEmpty ? "" : ", \(checks.count) checks passed"))
    }

    static let amcheckSQL = """
        SELECT count(bt_index_check(c.oid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
        JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND c.relpersistence <> 't' AND i.indisready AND i.indisvalid
        """

    static func parseChecks(_ context: StepContext) throws -> [Check] {
        var checks: [Check] = []
        for item in context.step.parameters["checks"]?.listValue ?? [] {
            let name = try item["name"]?.stringValue.map { try context.secrets.resolve($0) } ?? "check \(checks.count + 1)"
            let sql = try item["sql"]?.stringValue.map { try context.secrets.resolve($0) } ?? ""
            var expectations: [Expectation] = []
            if let value = item["equals"]?.stringValue { expectations.append(.equals(try context.secrets.resolve(value))) }
            if let value = item["at_least"]?.integerValue { expectations.append(.atLeast(value)) }
            if let value = item["at_most"]?.integerValue { expectations.append(.atMost(value)) }
            if item["non_empty"]?.booleanValue == true { expectations.append(.nonEmpty) }
            if item["matches_source"]?.booleanValue == true { expectations.append(.matchesSource) }
            guard expectations.count == 1, let expectation = expectations.first else {
                throw LifeboatError(.invalidInput, "check '\(name)' of step '\(context.step.id)' needs exactly one of "
                    + "equals, at_least, at_most, non_empty, matches_source (it has \(expectations.count))")
            }
            checks.append(Check(name: name, sql: sql, expectation: expectation))
        }
        return checks
    }

    static func evaluate(_ check: Check, on restored: PostgresConnection, sourceConninfo: String?) -> CheckEvidence {
        var evidence = CheckEvidence(step: "", name: check.name, sql: check.sql, expectation: check.expectation.text,
                                     actual: "", passed: false, detail: nil, seconds: 0, finishedAt: Date())
        let rows: [[String?]]
        do {
            rows = try restored.query(check.sql).rows
        } catch {
            evidence.actual = "error: \(error)"
            return evidence
        }
        let first = rows.first?.first ?? nil
        evidence.actual = rows.isEmpty ? "(no rows)" : (first ?? "NULL")
        switch check.expectation {
        case .equals(let expected):
            evidence.passed = first == expected
        case .atLeast(let bound):
            evidence.passed = first.flatMap(Double.init).map { $0 >= Double(bound) } ?? false
        case .atMost(let bound):
            evidence.passed = first.flatMap(Double.init).map { $0 <= Double(bound) } ?? false
        case .nonEmpty:
            evidence.actual = "\(rows.count) rows"
            evidence.passed = !rows.isEmpty
        case .matchesSource:
            evidence.actual = "\(rows.count) rows"
            guard let sourceConninfo, let source = try? PostgresConnection(conninfo: sourceConninfo + " connect_timeout=5") else {
                evidence.passed = nil
                evidence.detail = "the source could not be reached, so nothing was compared"
                return evidence
            }
            defer { source.close() }
            do {
                let expected = try source.query(check.sql).rows
                evidence.passed = expected == rows
                if expected != rows {
                    evidence.actual = "\(rows.count) rows, the source has \(expected.count)"
                        + (rows.count == expected.count ? " (with different values)" : "")
                }
            } catch {
                evidence.passed = nil
                evidence.detail = "the query failed on the source: \(error)"
            }
        }
        return evidence
    }
}
