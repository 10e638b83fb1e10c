import Yams

/// Checks one YAML value against a parameter type and turns it into a `ParameterValue`.
struct ValueDecoder {
    let source: YAMLSource
    let sink: DiagnosticSink
    /// Inventory used to check references; nil while the inventory itself is decoded.
    let inventory: Inventory?

    func decode(_ node: Node, as type: ParameterType, name: String) -> ParameterValue? {
        let location = source.location(node)
        func mismatch() -> ParameterValue? {
            sink.error(location, "'\(name)' must be \(type.summary), found \(node.kindName)")
            return nil
        }
        switch type {
        case .string:
            guard let text = node.text else { return mismatch() }
            return templateString(text, at: location, name: name).map(ParameterValue.string)

        case .choice(let words):
            guard let text = node.text else { return mismatch() }
            guard words.contains(text) else {
                sink.error(location, "'\(name)' must be one of \(words.joined(separator: ", ")), found '\(text)'",
                           hint: Suggestion.closest(to: text, in: words).map { "did you mean '\($0)'?" })
                return nil
            }
            return .string(TemplateString(stringLiteral: text))

        case .integer(let range):
            guard node.tagName == .int, let number = node.int else { return mismatch() }
            guard range.contains(number) else {
                sink.error(location, "'\(name)' must be from \(range.lowerBound) to \(range.upperBound), found \(number)")
                return nil
            }
            return .integer(number)

        case .boolean:
            guard node.tagName == .bool, let flag = node.bool else { return mismatch() }
            return .boolean(flag)

        case .duration:
            guard let text = node.text else { return mismatch() }
            guard let duration = PlanDuration(parsing: text) else {
                sink.error(location, "bad duration '\(text)' for '\(name)'",
                           hint: "write a number and a unit (ms, s, m, h, d, w), largest first: 90s, 15m, 1h30m")
                return nil
            }
            return .duration(duration)

        case .byteSize:
            guard let text = node.text else { return mismatch() }
            guard let size = ByteSize(parsing: text) else {
                sink.error(location, "bad size '\(text)' for '\(name)'",
                           hint: "write a number and a unit: 512, 64KiB, 16MiB, 1GiB, 1GB")
                return nil
            }
            return .byteSize(size)

        case .reference(let kind):
            guard let text = node.text else { return mismatch() }
            if let inventory, inventory.entry(kind, text) == nil {
                let known = inventory.names(kind)
                let hint: String
                if inventory.file == nil {
                    hint = "this plan has no inventory: add 'inventory: FILE' or put a lifeboat.yaml beside the plan"
                } else if let match = Suggestion.closest(to: text, in: known) {
                    hint = "did you mean '\(match)'?"
                } else if known.isEmpty {
                    hint = "\(inventory.file!) defines no \(kind.rawValue)"
                } else {
                    hint = "defined in \(inventory.file!): \(known.joined(separator: ", "))"
                }
                sink.error(location, "undefined \(kind.noun) '\(text)'", hint: hint)
                return nil
            }
            return .reference(kind, text)

        case .list(let element):
            guard case .sequence(let sequence) = node else { return mismatch() }
            var items: [ParameterValue] = []
            var failed = false
            for (index, item) in sequence.enumerated() {
                if let value = decode(item, as: element, name: "\(name)[\(index)]") {
                    items.append(value)
                } else {
                    failed = true
                }
            }
            return failed ? nil : .list(items)

        case .object(let fields):
            guard case .mapping = node else { return mismatch() }
            guard let values = decodeFields(node, specs: fields, what: "'\(name)'") else { return nil }
            return .map(fields.compactMap { field in values[field.name].map { .init(key: field.name, value: $0) } })

        case .stringMap:
            guard case .mapping(let mapping) = node else { return mismatch() }
            var entries: [ParameterValue.MapEntry] = []
            var failed = false
            for (key, value) in mapping {
                guard let keyText = key.text else {
                    sink.error(source.location(key), "keys of '\(name)' must be plain words")
                    failed = true
                    continue
                }
                guard let valueText = value.text else {
                    sink.error(source.location(value),
                               "'\(name).\(keyText)' must be a string, found \(value.kindName)")
                    failed = true
                    continue
                }
                if let template = templateString(valueText, at: source.location(value), name: "\(name).\(keyText)") {
                    entries.append(.init(key: keyText, value: .string(template)))
                } else {
                    failed = true
                }
            }
            return failed ? nil : .map(entries)
        }
    }

    private func templateString(_ text: String, at location: SourceLocation, name: String) -> TemplateString? {
        do {
            let template = try TemplateString(parsing: text)
            // An exec command's arguments are visible to every user in `ps`: secrets belong in its env.
            if name.hasPrefix("command["), let reference = template.references.first {
                sink.warning(location, "'\(name)' holds the secret \(reference): a command's arguments are visible in the "
                    + "process list", hint: "pass it in env: (e.g. env: { TOKEN: \"\(reference)\" }) and let the program read it")
            }
            for case .file(let path) in template.references where !isReadable(path) {
                sink.warning(location, "secret file '\(path)' for '\(name)' cannot be read here",
                             hint: "it is read when the step runs; make sure it exists and is readable there")
            }
            return template
        } catch {
            sink.error(location, "\(error.message) in '\(name)'", hint: error.hint)
            return nil
        }
    }

    private func isReadable(_ path: String) -> Bool {
        access(path, R_OK) == 0
    }

    /// Decodes a mapping's fields against specs: unknown keys, missing required keys and types are all reported.
    func decodeFields(_ node: Node, specs: [ParameterSpec], what: String) -> [String: ParameterValue]? {
        guard let reader = MappingReader(node, in: source, what: what, sink: sink) else { return nil }
        let errorsBefore = sink.diagnostics.count(where: { $0.severity == .error })
        reader.checkKeys(specs.map(\.name), what: what, sink: sink)
        for spec in specs where spec.required && reader[spec.name] == nil {
            sink.error(source.location(node), "\(what) is missing the required parameter '\(spec.name)' "
                + "(\(spec.type.summary))")
        }
        var values: [String: ParameterValue] = [:]
        for spec in specs {
            guard let valueNode = reader[spec.name] else { continue }
            if let value = decode(valueNode, as: spec.type, name: spec.name) {
                values[spec.name] = value
            }
        }
        let errorsAfter = sink.diagnostics.count(where: { $0.severity == .error })
        return errorsAfter == errorsBefore ? values : nil
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
