import ArgumentParser
import Engine
import Foundation
import Repository
import LifeboatCore

struct RepoKeyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Prove that an exported key file opens the repository, and record that it was checked.",
        discussion: """
            Run it now and then on the key file kept in the safe: with a single passphrase, that file is the only \
            way back should the passphrase be lost, and `verify` warns when none was checked in 90 days. Exit 0 when \
            the file opens the repository, 12 when it does not (damaged, or another repository's).
            """
    )

    @OptionGroup var repository: RepositoryArguments

    func run() throws {
        guard let keyFile = repository.keyFile else {
            throw ValidationError("give the key file to check with --key-file FILE")
        }
        let opened = try repository.open()
        let path = Paths.absolute(keyFile)
        try LifeboatError.wrapping { () throws(RepositoryError) in try opened.recordKeyFileCheck(action: "check", path: path) }
        Console.out("key file \(path) opens repository \(opened.id)")
    }
}
