import Foundation
import Notify
import Plans
import LifeboatCore

/// Channels from inventory entries, their secrets read now (and handed to the redactor).
enum ChannelBuilder {
    static func build(_ entry: InventoryEntry, secrets: SecretResolver) throws -> Channel {
        func text(_ key: String) throws -> String? {
            try entry.fields[key]?.stringValue.map { try secrets.resolve($0) }
        }
        func list(_ key: String) throws -> [String] {
            try (entry.fields[key]?.listValue ?? []).compactMap(\.stringValue).map { try secrets.resolve($0) }
        }
        guard let kind = try text("type").flatMap(Channel.Kind.init(rawValue:)) else {
            throw LifeboatError(.invalidInput, "channel '\(entry.name)' has no valid type")
        }
        var channel = Channel(name: entry.name, kind: kind, url: try text("url") ?? "")
        for header in entry.fields["headers"]?.mapValue ?? [] {
            channel.headers.append((header.key, try secrets.resolve(header.value.stringValue ?? "")))
        }
        channel.signingSecret = try text("secret")
        channel.routingKey = try text("routing_key")
        channel.from = try text("from")
        channel.to = try list("to")
        channel.cc = try list("cc")
        channel.username = try text("username")
        channel.password = try text("password")
        channel.requireTLS = entry.fields["starttls"]?.booleanValue ?? true
        channel.caFile = try text("ca_file")
        channel.required = entry.fields["required"]?.booleanValue ?? false
        if let timeout = entry.fields["timeout"]?.durationValue { channel.timeout = Double(timeout.milliseconds) / 1000 }
        for template in entry.fields["templates"]?.mapValue ?? [] {
            channel.templates[template.key] = template.value.stringValue?.description ?? ""
        }
        if kind == .email && channel.to.isEmpty {
            throw LifeboatError(.invalidInput, "e-mail channel '\(entry.name)' has no 'to'")
        }
        if kind == .pagerduty && channel.routingKey == nil {
            throw LifeboatError(.invalidInput, "pagerduty channel '\(entry.name)' has no 'routing_key'")
        }
        return channel
    }
}
