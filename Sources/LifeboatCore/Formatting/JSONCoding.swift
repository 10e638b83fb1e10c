import Foundation

/// The JSON Lifeboat prints and keeps outside the repository format: snake_case field names from the Swift names,
/// instants as RFC 3339 UTC (``Formatted/timestamp(_:)``), sorted keys so that documents compare and diff.
public enum LifeboatJSON {
    /// An encoder for documents meant for people and scripts (`--json`, reports, the catalog's JSON columns).
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                                          : [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Formatted.timestamp(date))
        }
        return encoder
    }

    /// The decoder that reads what ``encoder(pretty:)`` wrote. Instants may carry fractional seconds.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Formatted.parseTimestamp(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return decoder
    }
}
