import Foundation
import Plans
import Postgres
import Repository
import LifeboatCrypto
import LifeboatCore

/// `lifeboat failover PLAN --drill`: the failover plan run against scratch servers instead of production.
///
/// A scratch primary is restored from the newest backup of the plan's fenced database, a scratch standby is cloned
/// from it (`pg_basebackup -R`), and both archive into a scratch repository. The plan is rewritten to use them: the
/// inventory's databases point at the scratch servers and its repositories at the scratch repository, the fence
/// stops the scratch primary, `exec` steps only print what they would run (they reroute production). It then runs as
/// a drill: messages say DRILL, and the report measures the failover RTO (start until the health checks pass).
public final class FailoverDrill: Sendable {
    public let plan: Plan
    let servers: [ScratchServer]
    let folder: String

    /// Prepares the scratch servers and the rewritten plan. `repository` names the inventory repository holding the
    /// primary's backups (default: the only one, or the one a rebaseline step names).
    public static func prepare(_ original: Plan, repository name: String?, secrets: SecretResolver) throws -> FailoverDrill {
        guard let fence = original.steps.first(where: { $0.uses == "postgres.fence" }),
              let primaryName = fence.parameters["database"]?.referenceName,
              let promote = original.steps.first(where: { $0.uses == "postgres.promote" }),
              let standbyName = promote.parameters["database"]?.referenceName else {
            throw LifeboatError(.invalidInput, "a failover drill needs a postgres.fence step naming the primary's `database` "
                + "and a postgres.promote step naming the standby")
        }
        let repositoryName = name
            ?? original.steps.first { $0.uses == "postgres.rebaseline" }?.parameters["repository"]?.referenceName
            ?? (original.inventory.names(.repositories).count == 1 ? original.inventory.names(.repositories)[0] : nil)
        guard let repositoryName, let repositoryEntry = original.inventory.entry(.repositories, repositoryName) else {
            throw LifeboatError(.invalidInput, "which repository holds the backups of \(primaryName)? give --repo NAME")
        }
        let source = try RepositoryAccess.open(repositoryEntry, secrets: secrets)
        let binDirectory = try ServerUser.binDirectory()
        let owner = try ServerUser.owner()

        let primary = try ScratchServer(binDirectory: binDirectory)
        var servers = [primary]
        do {
            let folder = primary.folder
            // The scratch repository both servers archive into.
            let scratchRepo = folder + "/repository"
            let passphrase = Array(SecureRandom.hex(16).utf8)
            let scratch = try LifeboatError.wrapping { () throws(RepositoryError) in
                try BackupRepository.initialize(at: scratchRepo, passphrase: passphrase, scryptN: 1 << 10)
            }
            let scratchKey = folder + "/scratch.key"
            try LifeboatError.wrapping { () throws(RepositoryError) in try scratch.exportKey(to: scratchKey) }
            let sourceKey = try PostgresRestoreStep.exportKey(source, into: folder, owner: owner)
            if let owner { _ = try ChildProcess.run("/bin/chown", ["-R", "\(owner.uid):\(owner.gid)", scratchRepo, scratchKey]) }
            let lifeboat = ShellQuoting.quote(LifeboatExecutable.path())
            let archive = "\(lifeboat) wal push %p --repo \(ShellQuoting.quote(scratchRepo)) --key-file \(ShellQuoting.quote(scratchKey))"

            guard let primaryEntry = original.inventory.entry(.databases, primaryName) else {
                throw LifeboatError(.invalidInput, "the inventory has no database '\(primaryName)'")
            }
            let selection = try PostgresRestoreStep.chooseBackup(source, database: primaryEntry, secrets: secrets, id: nil,
                                                                 target: .latest, cutoff: nil)
            var options = Restore.Options(destination: primary.dataDirectory)
            options.workers = source.store.preferredConcurrency
            options.restoreCommand = try PostgresRestoreStep.walFetchCommand(
                source, cluster: selection.manifest.systemIdentifier, keyFile: sourceKey, folder: folder, owner: owner)
            options.owner = owner
            _ = try Restore.run(from: source, selection: selection, options: options)
            try primary.writeAccessRules()
            try primary.start(archiveCommand: archive)
            try primary.waitUntilWritable(timeout: 3600)

            let standby = try ScratchServer(parent: folder, binDirectory: binDirectory)
            servers.append(standby)
            try standby.cloneStandby(of: primary)
            try standby.start(archiveCommand: archive)

            // The plan, pointed at the scratch servers.
            var plan = original
            plan.kind = .drill
            plan.targets = Targets(rpo: nil, rto: original.targets?.rto)
            for (name, server) in [(primaryName, primary), (standbyName, standby)] {
                guard var entry = plan.inventory.entry(.databases, name), let port = server.port else { continue }
                entry.fields = entry.fields.filter { ["dbname"].contains($0.key) }
                entry.fields["host"] = .string(TemplateString(stringLiteral: server.socketDirectory))
                entry.fields["port"] = .integer(port)
                entry.fields["user"] = .string("postgres")
                plan.inventory.entries[.databases]?[name] = entry
            }
            for name in plan.inventory.names(.repositories) {
                guard var entry = plan.inventory.entry(.repositories, name) else { continue }
                entry.fields = ["location": .string(TemplateString(stringLiteral: scratchRepo)),
                                "key_file": .string(TemplateString(stringLiteral: scratchKey))]
                plan.inventory.entries[.repositories]?[name] = entry
            }
            let stop = (owner != nil ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : [])
                + [binDirectory + "/pg_ctl", "-D", primary.dataDirectory, "-m", "fast", "-w", "stop"]
            plan.steps = plan.steps.map { step in
                var step = step
                switch step.uses {
                case "postgres.fence":
                    step.parameters["command"] = .list(stop.map { .string(TemplateString(stringLiteral: $0)) })
                    step.parameters["env"] = nil
                case "exec":
                    let words = (step.parameters["command"]?.listValue ?? []).compactMap { $0.stringValue?.description }
                    step.parameters = ["command": .list([.string("echo"),
                                                         .string(TemplateString(stringLiteral: "drill: would run: " + words.joined(separator: " ")))])]
                default:
                    break
                }
                return step
            }
            return FailoverDrill(plan: plan, servers: servers, folder: folder)
        } catch {
            for server in servers.reversed() { server.destroy() }
            throw error
        }
    }

    private init(plan: Plan, servers: [ScratchServer], folder: String) {
        self.plan = plan
        self.servers = servers
        self.folder = folder
    }

    /// Stops and removes the scratch servers and the scratch repository.
    public func cleanUp() {
        for server in servers.reversed() { server.destroy() }
    }
}
