import Foundation
import TestSupport
import Testing

/// A temp folder with a state directory and plans, and the built `lifeboat` binary pointed at it.
final class CLIBench: Sendable {
    let folder: TemporaryDirectory
    let cli: LifeboatCLI

    init(environment extra: [String: String] = [:]) throws {
        folder = try TemporaryDirectory(prefix: "lifeboat-cli")
        var cli = try LifeboatCLI(stateDirectory: folder.file("state"))
        cli.environment.merge(extra) { $1 }
        self.cli = cli
    }

    deinit { folder.remove() }

    @discardableResult
    func plan(_ name: String, _ yaml: String) throws -> String {
        try folder.write(name, yaml)
    }

    func run(_ arguments: [String], input: String? = nil) throws -> ProcessResult {
        try cli.run(arguments, input: input)
    }

    func read(_ name: String) -> String {
        ((try? String(contentsOfFile: folder.file(name), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The runs `runs list --json` reports.
    func runs() throws -> [[String: Any]] {
        let result = try run(["runs", "list", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
    }

    /// A plan whose only step writes its shell's pid to `pidFile` and then sleeps.
    func sleeperPlan(_ name: String, pidFile: String, seconds: Int = 60) throws -> String {
        try plan("\(name).yaml", """
            plan: \(name)
            kind: backup
            steps:
              - id: sleep
                uses: exec
                with: { command: [sh, -c, 'echo $$ > \(pidFile); exec sleep \(seconds)'] }
              - id: after
                uses: exec
                needs: sleep
                with: { command: ["true"] }
            """)
    }
}

/// The cluster's system identifier, as the repository files its WAL under.
func systemIdentifier(_ cluster: PostgresCluster) throws -> String {
    try #require(try cluster.connect().query("SELECT system_identifier::text FROM pg_control_system()").scalar)
}
