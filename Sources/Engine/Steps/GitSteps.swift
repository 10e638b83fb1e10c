import Foundation
import Mirrors
import Plans
import Repository
import LifeboatCore

extension StepContext {
    /// The inventory's git sources a step names in `sources` (all of them when it names none), secrets resolved.
    func mirrorSources() throws -> [(source: MirrorSource, repository: String?)] {
        let names = step.parameters["sources"]?.listValue?.compactMap(\.referenceName) ?? plan.inventory.names(.git)
        guard !names.isEmpty else {
            throw LifeboatError(.invalidInput, "step '\(step.id)': the inventory defines no git sources")
        }
        return try names.map { name in
            guard let entry = plan.inventory.entry(.git, name) else {
                throw LifeboatError(.invalidInput, "step '\(step.id)' names no git source '\(name)'")
            }
            func strings(_ key: String) throws -> [String] {
                try (entry.fields[key]?.listValue ?? []).compactMap(\.stringValue).map { try secrets.resolve($0) }
            }
            let url = try entry.fields["source"]?.stringValue.map { try secrets.resolve($0) } ?? ""
            let preserve = entry.fields["preserve_for"]?.durationValue.map { Double($0.milliseconds) / 1000 } ?? 90 * 86_400
            let source = MirrorSource(name: name, url: url, destinations: try strings("mirrors"),
                                      include: try strings("include"), exclude: try strings("exclude"),
                                      preserveFor: preserve)
            return (source, try entry.fields["repository"]?.stringValue.map { try secrets.resolve($0) })
        }
    }

    var mirrorCacheRoot: String { catalog.state.path + "/git" }
}

/// `git.mirror`: brings every mirror of the named git sources (all by default) up to date without losing history,
/// and optionally stores an encrypted bundle of each in a repository.
enum GitMirrorStep {
    static let schema = StepSchema(
        name: "git.mirror",
        summary: "mirror git sources to their mirrors, preserving deleted and force-pushed tips",
        parameters: [
            ParameterSpec("sources", .list(.reference(.git)), "git sources of the inventory (default: all)"),
            ParameterSpec("parallel", .integer(1...16), "sources synced at once (default 2)"),
            ParameterSpec("source_timeout", .duration, "time limit for one source (default 30m)"),
            ParameterSpec("source_retries", .integer(0...10), "tries again after a failure (default 1)"),
            ParameterSpec("keep_bundles", .integer(1...10_000), "bundles kept per source in its repository (default 30)"),
        ],
        example: "    with: { sources: [infra, app] }"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    static func run(_ context: StepContext) async throws {
        let sources = try context.mirrorSources()
        let parallel = context.step.parameters["parallel"]?.integerValue ?? 2
        let timeout = context.step.parameters["source_timeout"]?.durationValue.map { Duration.milliseconds($0.milliseconds) }
            ?? .seconds(1800)
        let retries = context.step.parameters["source_retries"]?.integerValue ?? 1
        let keep = context.step.parameters["keep_bundles"]?.integerValue ?? 30
        let sync = MirrorSync(git: Git(), cacheRoot: context.mirrorCacheRoot)
        let repositories = try Dictionary(sources.compactMap { $0.repository }.map { name in
            guard let entry = context.plan.inventory.entry(.repositories, name) else {
                throw LifeboatError(.invalidInput, "git source names repository '\(name)', which the inventory does not define")
            }
            return (name, entry)
        }, uniquingKeysWith: { first, _ in first })

        var failures: [String] = []
        var index = 0
        while index < sources.count {
            let batch = sources[index..<min(index + parallel, sources.count)]
            index += parallel
            let results = await withTaskGroup(of: SourceResult.self) { group in
                for (source, _) in batch {
                    group.addTask {
                        var result = await sync.sync(source, timeout: timeout)
                        var attempt = 0
                        while !result.succeeded && attempt < retries && !Task.isCancelled {
                            attempt += 1
                            try? await Task.sleep(for: .seconds(2 * attempt))
                            result = await sync.sync(source, timeout: timeout)
                        }
                        return result
                    }
                }
                var all: [SourceResult] = []
                for await result in group { all.append(result) }
                return all
            }
            try Task.checkCancellation()
            for result in results.sorted(by: { $0.source < $1.source }) {
                try record(result, context: context)
                if let error = result.error { failures.append("\(result.source): \(error)") }
                for destination in result.destinations where !destination.succeeded {
                    failures.append("\(result.source) → \(destination.destination): \(destination.error ?? "failed")")
                }
                guard result.error == nil, let (source, repositoryName) = batch.first(where: { $0.source.name == result.source }),
                      let repositoryName, let entry = repositories[repositoryName] else { continue }
                do {
                    try await storeBundle(source, sync: sync, entry: entry, keep: keep, context: context)
                } catch {
                    failures.append("\(result.source): bundle into \(repositoryName): \(error)")
                }
            }
        }
        if !failures.isEmpty {
            throw LifeboatError(.runFailed, "\(failures.count) mirror problem\(failures.count == 1 ? "" : "s"): "
                + failures.joined(separator: "; "))
        }
    }

    static func record(_ result: SourceResult, context: StepContext) throws {
        let ended = Date()
        let started = ended.addingTimeInterval(-result.seconds)
        var syncs: [GitSyncRecord] = []
        var preserved: [GitPreservedRecord] = []
        if let error = result.error {
            context.output.note("\(result.source): \(error)")
        }
        for destination in result.destinations {
            syncs.append(GitSyncRecord(runId: context.runId, source: result.source, destination: destination.destination,
                                       startedAt: started, endedAt: ended, succeeded: destination.succeeded,
                                       refs: result.refs, refsChanged: destination.refsChanged,
                                       preserved: destination.preserved.count, bytes: destination.bytes,
                                       error: destination.error))
            for ref in destination.preserved {
                preserved.append(GitPreservedRecord(runId: context.runId, source: result.source,
                                                    destination: destination.destination, ref: ref.ref,
                                                    preservedAs: ref.preservedAs, sha: ref.sha, reason: ref.reason,
                                                    preservedAt: ended))
                context.output.note("\(result.source) → \(destination.destination): \(ref.ref) was \(ref.reason); "
                    + "its old tip \(ref.sha.prefix(12)) is kept as \(ref.preservedAs)")
            }
            context.output.note("\(result.source) → \(destination.destination): "
                + (destination.error.map { "FAILED: \($0)" }
                    ?? "\(destination.refsChanged) refs changed, \(Formatted.bytes(destination.bytes)), \(destination.expired) preserved refs expired")
                + " (\(Formatted.duration(destination.seconds)))")
        }
        if let error = result.error, result.destinations.isEmpty {
            // The source could not be fetched: every mirror missed this sync.
            let mirrors = (try? context.mirrorSources().first { $0.source.name == result.source }?.source.destinations) ?? []
            for mirror in mirrors {
                syncs.append(GitSyncRecord(runId: context.runId, source: result.source, destination: RemoteURL.display(mirror),
                                           startedAt: started, endedAt: ended, succeeded: false, refs: 0, refsChanged: 0,
                                           preserved: 0, bytes: 0, error: error))
            }
        }
        try context.catalog.insert(syncs, preserved: preserved)
    }

    static func storeBundle(_ source: MirrorSource, sync: MirrorSync, entry: InventoryEntry, keep: Int,
                            context: StepContext) async throws {
        let repository = try RepositoryAccess.open(entry, secrets: context.secrets)
        let cache = source.cache(in: sync.cacheRoot)
        let refs = RefSet.parse(try await sync.git.run(["for-each-ref", "--format=%(objectname) %(refname)", "refs/"],
                                                       in: cache).stdout).refs
        let existing = try LifeboatError.wrapping { () throws(RepositoryError) in try repository.bundles(source: source.name) }
        if let newest = existing.last, newest.refs == refs {
            context.output.note("\(source.name): bundle \(newest.id) already holds these refs")
            return
        }
        let file = FileManager.default.temporaryDirectory.path + "/lifeboat-bundle-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        guard try await sync.bundle(source, to: file) else { return }
        let manifest = try await Blocking.run { _ in
            try LifeboatError.wrapping { () throws(RepositoryError) in
                try repository.storeBundle(source: source.name, file: file, refs: refs)
            }
        }
        context.output.note("\(source.name): bundle \(manifest.id) stored in \(entry.name) (\(Formatted.bytes(Int64(manifest.size))), "
            + "\(manifest.newStoredBytes) new)")
        for old in (existing + [manifest]).dropLast(keep) {
            try LifeboatError.wrapping { () throws(RepositoryError) in try repository.removeBundle(old.id) }
        }
    }
}

/// `git.verify`: every mirror's refs equal the source's, `git fsck` finds nothing, and the last successful sync is
/// within the plan's RPO target. Each mirror's result is evidence in drill reports.
enum GitVerifyStep {
    static let schema = StepSchema(
        name: "git.verify",
        summary: "check that every mirror equals its source, is intact (fsck) and fresh (within the RPO target)",
        parameters: [ParameterSpec("sources", .list(.reference(.git)), "git sources of the inventory (default: all)")],
        example: "    with: { sources: [infra] }"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    static func run(_ context: StepContext) async throws {
        let sources = try context.mirrorSources()
        let sync = MirrorSync(git: Git(), cacheRoot: context.mirrorCacheRoot)
        let rpo = context.plan.targets?.rpo.map { Double($0.milliseconds) / 1000 }
        let states = try context.catalog.gitSyncStates()
        var failures: [String] = []
        for (source, _) in sources {
            let started = Date()
            let check = await sync.verify(source, timeout: .seconds(600))
            if let error = check.sourceError { context.output.note("\(source.name): \(error) (compared with the cache)") }
            if !check.cacheFsck.isEmpty {
                failures.append("\(source.name): the local cache fails fsck: \(check.cacheFsck.first ?? "")")
            }
            for mirror in check.mirrors {
                let lastSuccess = states.first { $0.latest.source == source.name && $0.latest.destination == mirror.destination }?.lastSuccess
                let age = lastSuccess.map { Date().timeIntervalSince($0) }
                if let age { context.session.recordMirrorAge("\(source.name) → \(mirror.destination)", seconds: age) }
                var problems: [String] = []
                if !mirror.inSync {
                    problems.append("\(mirror.state): " + (mirror.differences + mirror.fsck).prefix(5).joined(separator: "; "))
                }
                if let rpo {
                    if let age, age > rpo {
                        problems.append("last synced \(Formatted.duration(age)) ago, over the RPO target of \(Formatted.duration(rpo))")
                    } else if age == nil {
                        problems.append("never synced successfully by Lifeboat")
                    }
                }
                let evidence = CheckEvidence(
                    step: context.step.id, name: "mirror \(source.name) → \(mirror.destination)",
                    sql: "git ls-remote, git fsck --full",
                    expectation: "refs equal the source's (\(check.refs)), fsck clean" + (rpo.map { ", synced within \(Formatted.duration($0))" } ?? ""),
                    actual: mirror.state + (age.map { ", synced \(Formatted.duration($0)) ago" } ?? ""),
                    passed: problems.isEmpty, detail: problems.isEmpty ? nil : problems.joined(separator: "; "),
                    seconds: Date().timeIntervalSince(started), finishedAt: Date())
                context.session.record(evidence)
                context.output.note("\(evidence.name): \(problems.isEmpty ? "PASS" : "FAIL") (\(evidence.actual))"
                    + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; ")))
                if !problems.isEmpty { failures.append("\(evidence.name): \(problems.joined(separator: "; "))") }
            }
        }
        if !failures.isEmpty {
            throw LifeboatError(.runFailed, failures.joined(separator: " | "))
        }
    }
}
