import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of S3's XML answers Lifeboat reads: records (one dictionary per `<Contents>`, `<CommonPrefixes>`,
/// `<Upload>` …) and the other leaf elements by name (`IsTruncated`, `NextContinuationToken`, `UploadId`, `Code`).
struct S3XML {
    var records: [String: [[String: String]]] = [:]
    var fields: [String: String] = [:]
    /// False when the document ended early or is not well-formed (a truncated answer).
    var complete = false

    init(_ bytes: [UInt8], recordElements: Set<String> = []) {
        let collector = Collector(recordElements: recordElements)
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = collector
        // libxml2 may report success for a document cut after a complete element: require the root's end tag.
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        complete = parser.parse() && collector.root.map { text.hasSuffix("</\($0)>") } == true
        records = collector.records
        fields = collector.fields
    }

    /// An S3 error document's code and message, if the body is one.
    static func error(_ bytes: [UInt8]) -> (code: String, message: String)? {
        guard !bytes.isEmpty, bytes.count < 1 << 20 else { return nil }
        let document = S3XML(bytes)
        guard let code = document.fields["Code"] else { return nil }
        return (code, document.fields["Message"] ?? "")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private final class Collector: NSObject, XMLParserDelegate {
        let recordElements: Set<String>
        var records: [String: [[String: String]]] = [:]
        var fields: [String: String] = [:]
        var root: String?
        private var record: (name: String, values: [String: String])?
        private var text = ""

        init(recordElements: Set<String>) { self.recordElements = recordElements }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            if root == nil { root = name }
            if recordElements.contains(name) && record == nil { record = (name, [:]) }
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if let current = record, current.name == name {
                records[name, default: []].append(current.values)
                record = nil
            } else if record != nil {
                record!.values[name] = text
            } else {
                fields[name] = text
            }
            text = ""
        }
    }
}
