import Foundation
import Yams

/// A YAML file parsed into nodes that remember their line and column.
struct YAMLSource {
    let file: String
    let root: Node?

    /// Reads and parses `file`; problems go to `sink` and give a nil result.
    static func load(_ file: String, what: String, sink: DiagnosticSink) -> YAMLSource? {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let decoded = String(data: data, encoding: .utf8) else {
                sink.error(SourceLocation(file: file), "cannot read \(what): the file is not UTF-8 text")
                return nil
            }
            text = decoded
        } catch {
            sink.error(SourceLocation(file: file), "cannot read \(what): \(Self.reason(error, file: file))")
            return nil
        }
        do {
            return YAMLSource(file: file, root: try Yams.compose(yaml: text))
        } catch let error as YamlError {
            let (mark, problem) = Self.describe(error)
            sink.error(SourceLocation(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0),
                       "YAML syntax error: \(problem)",
                       hint: "check indentation and quoting near this position")
            return nil
        } catch {
            sink.error(SourceLocation(file: file), "cannot parse \(what): \(error)")
            return nil
        }
    }

    func location(_ node: Node?) -> SourceLocation {
        guard let mark = node?.mark else { return SourceLocation(file: file, line: 1, column: 1) }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    private static func reason(_ error: any Error, file: String) -> String {
        let nsError = error as NSError
        if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if !FileManager.default.fileExists(atPath: file) { return "no such file" }
        if !FileManager.default.isReadableFile(atPath: file) { return "permission denied" }
        return nsError.localizedDescription
    }

    private static func describe(_ error: YamlError) -> (Mark?, String) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let contextText = context.map { "\($0.text) " } ?? ""
            return (mark, contextText + problem)
        case let .duplicatedKeysInMapping(duplicates, context):
            return (context.mark, "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        case let .reader(problem, _, _, _):
            return (nil, problem)
        default:
            return (nil, "\(error)")
        }
    }
}

/// The keys and values of one YAML mapping, for checking keys and reading values with positions.
struct MappingReader {
    let source: YAMLSource
    let node: Node
    let entries: [(key: String, keyNode: Node, value: Node)]

    /// Nil (with an error) when `node` is not a mapping.
    init?(_ node: Node, in source: YAMLSource, what: String, sink: DiagnosticSink) {
        guard case .mapping(let mapping) = node else {
            sink.error(source.location(node), "\(what) must be a mapping of keys to values, found \(node.kindName)")
            return nil
        }
        self.source = source
        self.node = node
        var entries: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                sink.error(source.location(key), "keys in \(what) must be plain words")
                continue
            }
            if !seen.insert(scalar.string).inserted {
                sink.error(source.location(key), "duplicate key '\(scalar.string)' in \(what)")
                continue
            }
            entries.append((scalar.string, key, value))
        }
        self.entries = entries
    }

    subscript(key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    func keyNode(_ key: String) -> Node? {
        entries.first { $0.key == key }?.keyNode
    }

    /// Reports every key not in `allowed`, with a "did you mean" hint.
    func checkKeys(_ allowed: [String], what: String, sink: DiagnosticSink) {
        for entry in entries where !allowed.contains(entry.key) {
            sink.error(source.location(entry.keyNode), "unknown key '\(entry.key)' in \(what)",
                       hint: Suggestion.hint(for: entry.key, in: allowed, noun: "keys"))
        }
    }

    /// Reports missing keys.
    func require(_ keys: [String], what: String, sink: DiagnosticSink) {
        for key in keys where self[key] == nil {
            sink.error(source.location(node), "\(what) is missing the required key '\(key)'")
        }
    }
}

extension Node {
    var kindName: String {
        switch self {
        case .scalar(let scalar):
            switch tagName {
            case .null: "nothing (null)"
            case .int: "the number \(scalar.string)"
            case .bool: "the boolean \(scalar.string)"
            case .float: "the number \(scalar.string)"
            default: "the string '\(scalar.string)'"
            }
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// The resolved tag's name (`Tag.name` itself is not public).
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }

    var isNull: Bool {
        if case .scalar = self, tagName == .null { return true }
        return false
    }

    /// The text of a scalar that is not null.
    var text: String? {
        if case .scalar(let scalar) = self, tagName != .null { return scalar.string }
        return nil
    }
}
