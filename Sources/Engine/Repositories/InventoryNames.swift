import Foundation
import Plans
import Repository
import LifeboatCore

/// Lets one-off commands name inventory entries (`--repo primary`, `--database orders`) instead of paths and
/// connection strings, with secrets read from the inventory's `${env:…}`/`${file:…}` references.
public struct InventoryNames: Sendable {
    public let inventory: Inventory

    /// The inventory to use: `--inventory`, else `LIFEBOAT_INVENTORY`, else `./lifeboat.yaml`, else
    /// `/etc/lifeboat/lifeboat.yaml`; nil when there is none.
    public static func load(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> InventoryNames? {
        let candidates = [explicit, environment[EnvironmentVariable.inventory.name]].compactMap { $0 }.filter { !$0.isEmpty }
        let file: String
        if let given = candidates.first {
            file = given
        } else if let found = ["lifeboat.yaml", "/etc/lifeboat/lifeboat.yaml"].first(where: {
            FileManager.default.fileExists(atPath: $0)
        }) {
            file = found
        } else {
            return nil
        }
        let (inventory, diagnostics) = StepRegistry.standard.loader.loadInventory(file)
        guard let inventory else { throw PlanValidationError(diagnostics: diagnostics) }
        return InventoryNames(inventory: inventory)
    }

    /// The repository an option names, if it is an inventory name rather than a path.
    public func repository(_ value: String?) -> InventoryEntry? {
        guard let value, !value.contains("/") else { return nil }
        return inventory.entry(.repositories, value)
    }

    /// A libpq connection string for an inventory database.
    public func conninfo(database name: String, environment: [String: String]) throws -> String {
        guard let entry = inventory.entry(.databases, name) else {
            throw LifeboatError(.invalidInput, "no database '\(name)' in \(inventory.file ?? "the inventory")",
                                hint: "defined: \(inventory.names(.databases).joined(separator: ", "))")
        }
        return try Conninfo.build(entry, secrets: SecretResolver(environment: environment, redactor: Redactor()))
    }
}

extension RepositoryAccess {
    /// Opens `--repo`: an inventory name (with the inventory's credentials unless others are given) or a path.
    public static func open(_ options: RepositoryOptions, names: InventoryNames?) throws -> BackupRepository {
        guard let entry = names?.repository(options.location) else { return try open(options) }
        if options.keyFile != nil || options.passphraseFile != nil || options.environment[EnvironmentVariable.passphrase.name] != nil {
            var direct = options
            let secrets = SecretResolver(environment: options.environment, redactor: Redactor())
            direct.location = try entry.fields["location"]?.stringValue.map { try secrets.resolve($0) }
            direct.s3 = try s3Settings(entry, secrets: secrets)
            return try open(direct)
        }
        return try open(entry, secrets: SecretResolver(environment: options.environment, redactor: Redactor()),
                        allowingOlderFormat: options.allowingOlderFormat)
    }
}
