import ArgumentParser
import Engine

enum LifeboatVersion {
    static let text = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Show Lifeboat's version and the versions of the libraries it runs with."
    )

    func run() throws {
        Console.out("lifeboat \(LifeboatVersion.text)")
        for library in LibraryVersions.all {
            Console.out("  " + library.name.padding(toLength: 8, withPad: " ", startingAt: 0) + " " + library.version)
        }
    }
}
