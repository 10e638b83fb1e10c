import Foundation
import LifeboatCore
import Postgres
import Repository
import Testing
@testable import lifeboat

/// The exit codes are written once (`ExitCodes.table`): `--help` and the README say the same.
@Suite("the exit-code table")
struct ExitCodeTableTests {
    @Test("the README's exit-code table equals ExitCodes.table, and --help prints every code")
    func readmeMatches() throws {
        let readme = try String(contentsOfFile: #filePath.components(separatedBy: "/Tests/")[0] + "/README.md", encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "### Exit codes").dropFirst().first?
            .components(separatedBy: "\n### ").first)
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| code") }
            .map { line -> (Int32, String) in
                let cells = line.dropFirst(2).dropLast(2).components(separatedBy: " | ")
                return (Int32(cells[0]) ?? -1, cells.dropFirst().joined(separator: " | "))
            }
        #expect(rows.map(\.0) == ExitCodes.table.map(\.code))
        for (row, entry) in zip(rows, ExitCodes.table) {
            #expect(row.1 == entry.meaning, "exit \(entry.code): the README says '\(row.1)'")
        }
        let help = try CLIBench().run(["--help"]).stdout.replacingOccurrences(of: "\n", with: " ")
            .split(separator: " ").joined(separator: " ")
        for entry in ExitCodes.table { #expect(help.contains("\(entry.code) \(entry.short)"), "\(entry.code) missing from --help") }
    }

    @Test("every module's error reaches the top with its own code's exit status, nothing re-wrapped")
    func everyErrorKeepsItsCode() {
        let cases: [(any Error, Int32)] = [
            (RepositoryError(.outdated, "format 2"), ExitCodes.repositoryMissing),
            (RepositoryError(.notInitialised, "none"), ExitCodes.repositoryMissing),
            (RepositoryError(.refused, "last key"), ExitCodes.invalidInput),
            (RepositoryError(.damaged, "bad pack"), ExitCodes.damaged),
            (RepositoryError(.wrongKey, "no"), ExitCodes.wrongKey),
            (RepositoryError(.locked, "held"), ExitCodes.locked),
            (RepositoryError(.conflict, "differs"), ExitCodes.runFailed),
            (Restore.RestoreError(description: "gap", damaged: true), ExitCodes.damaged),
            (Restore.RestoreError(description: "not empty", damaged: false, invalidInput: true), ExitCodes.invalidInput),
            (PostgresError(sqlState: "28P01", message: "password authentication failed"), ExitCodes.runFailed),
            (LifeboatError(.state, "catalog"), ExitCodes.stateUnusable),
            (LifeboatError("backup failed", RepositoryError(.locked, "lapsed")), ExitCodes.locked),
            (CocoaError(.fileReadUnknown), ExitCodes.runFailed),
        ]
        for (error, expected) in cases {
            #expect(ExitCodes.report(error) == expected, "\(error)")
        }
    }

    @Test("--help lists every documented environment variable")
    func helpListsEnvironment() throws {
        let help = try CLIBench().run(["--help"]).stdout
        for variable in EnvironmentVariable.all where variable.documented {
            #expect(help.contains(variable.name), "\(variable.name) missing from --help")
        }
        #expect(!help.contains(EnvironmentVariable.failpoints.name))
    }
}
