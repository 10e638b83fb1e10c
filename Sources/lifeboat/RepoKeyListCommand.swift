import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct RepoKeyListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the repository's keys.")

    @OptionGroup var repository: RepositoryArguments

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let keys: [KeyInfo] = try LifeboatError.wrapping { () throws(RepositoryError) in try opened.keys() }
        if json {
            try Console.json(keys)
            return
        }
        Console.out(Console.table(["ID", "CREATED (UTC)", "USER", "HOST", "LABEL", ""], keys.map {
            [$0.id, Formatted.timestamp($0.created), $0.user, $0.host, $0.label ?? "",
             $0.damage != nil ? "DAMAGED" : $0.current ? "(this one)" : ""]
        }))
        for key in keys { if let damage = key.damage { Console.warning("key slot \(key.id) is damaged: \(damage)") } }
        if let warning = try LifeboatError.wrapping({ () throws(RepositoryError) in try opened.singleKeyWarning() }) {
            Console.warning(warning)
            Console.hint(BackupRepository.singleKeyHint)
        }
    }
}
