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
        parser.shouldResolveExternalEntities = false
        // libxml2 may report success for a document cut after a complete element, or one it recovered from an
        // error (an element left open, a second root): require no parser error and the root's end tag. S3 never
        // sends a DTD; a document with one (entities of its own) is not taken as an answer.
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parsed = parser.parse()
        complete = parsed && parser.parserError == nil && !collector.sawDTD && !text.contains("<!DOCTYPE")
            && collector.root.map { text.hasSuffix("</\($0)>") } == true
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

        func parser(_ parser: XMLParser, foundCDATA block: Data) { text += String(decoding: block, as: UTF8.self) }

        var sawDTD = false

        func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) {
            sawDTD = true
        }

        func parser(_ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?,
                    systemID: String?) {
            sawDTD = true
        }

        func parser(_ parser: XMLParser, foundElementDeclarationWithName elementName: String, model: String) {
            sawDTD = true
        }

        func parser(_ parser: XMLParser, foundUnparsedEntityDeclarationWithName name: String, publicID: String?,
                    systemID: String?, notationName: String?) {
            sawDTD = true
        }

        func parser(_ parser: XMLParser, resolveExternalEntityName name: String, systemID: String?) -> Data? {
            sawDTD = true
            return nil
        }

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
