import Foundation
import Plans
import LifeboatCore

/// Reads the values behind `${env:NAME}` and `${file:PATH}` when a step runs, and hands each to the redactor.
///
/// Errors name the reference, never a value.
public struct SecretResolver: Sendable {
    public let environment: [String: String]
    public let redactor: Redactor

    public init(environment: [String: String], redactor: Redactor) {
        self.environment = environment
        self.redactor = redactor
    }

    public func value(of reference: SecretReference) throws(LifeboatError) -> String {
        let value: String
        switch reference {
        case .environment(let name):
            guard let found = environment[name] else {
                throw LifeboatError(.runFailed, "secret \(reference) is not set",
                                    hint: "export \(name) in the environment that runs Lifeboat (cron has a small environment)")
            }
            value = found
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                let reason = FileManager.default.fileExists(atPath: path) ? "is not readable" : "does not exist"
                throw LifeboatError(.runFailed, "secret file for \(reference) \(reason)",
                                    hint: "create it with mode 0600, readable by the user running Lifeboat")
            }
            guard var text = String(data: data, encoding: .utf8) else {
                throw LifeboatError(.runFailed, "secret file for \(reference) is not UTF-8 text")
            }
            if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
            value = text
        }
        redactor.register(value)
        return value
    }

    /// The text of `template` with its references filled in.
    public func resolve(_ template: TemplateString) throws(LifeboatError) -> String {
        try template.resolve { (reference) throws(LifeboatError) -> String in try value(of: reference) }
    }
}
