import Foundation
@testable import Repository
import Testing

/// `S3XML` on S3's answers as AWS documents them, and on answers no S3 sends: cut, malformed or hostile.
@Suite("S3 XML answers")
struct S3XMLTests {
    static let listing: Set<String> = ["Contents", "CommonPrefixes"]

    static func parse(_ text: String, records: Set<String> = listing) -> S3XML {
        S3XML(Array(text.utf8), recordElements: records)
    }

    // MARK: - ListObjectsV2

    static let truncatedPage = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>lifeboat-bucket</Name>
          <Prefix>repo/</Prefix>
          <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>
          <NextContinuationToken>1/AbC+dEf&amp;gh==</NextContinuationToken>
          <KeyCount>6</KeyCount>
          <MaxKeys>6</MaxKeys>
          <Delimiter>/</Delimiter>
          <IsTruncated>true</IsTruncated>
          <Contents>
            <Key>repo/packs/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Key>
            <LastModified>2026-11-26T02:30:00.000Z</LastModified>
            <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
            <Size>1048576</Size>
            <Owner><ID>owner-id</ID><DisplayName>lifeboat</DisplayName></Owner>
            <StorageClass>STANDARD</StorageClass>
          </Contents>
          <Contents>
            <Key>repo/données/日本語/🚀.pack</Key>
            <LastModified>2026-11-26T02:31:00.000Z</LastModified>
            <ETag>"0cc175b9c0f1b6a831c399e269772661-2"</ETag>
            <Size>0</Size>
            <StorageClass>STANDARD</StorageClass>
          </Contents>
          <Contents>
            <Key>repo/&#x65E5;&#26412; line&#10;break&#13;return&#9;tab</Key>
            <Size>7</Size>
          </Contents>
          <Contents>
            <Key>  repo/spaced key  </Key>
            <Size>3</Size>
          </Contents>
          <CommonPrefixes><Prefix>repo/index/</Prefix></CommonPrefixes>
          <CommonPrefixes><Prefix>repo/keys &amp; locks/</Prefix></CommonPrefixes>
        </ListBucketResult>
        """

    @Test("a truncated page: keys with entities, unicode and character references, sizes, the continuation token")
    func truncatedListingPage() {
        let document = S3XMLTests.parse(S3XMLTests.truncatedPage)
        #expect(document.complete)
        let contents = document.records["Contents"] ?? []
        #expect(contents.map { $0["Key"] } == [
            "repo/packs/a&b <c> \"d\" 'e'",
            "repo/données/日本語/🚀.pack",
            "repo/日本 line\nbreak\rreturn\ttab",
            "  repo/spaced key  ",
        ])
        #expect(contents.map { $0["Size"] } == ["1048576", "0", "7", "3"])
        #expect(contents[0]["ETag"] == "\"9b2cf535f27731c974343645a3985328\"")
        #expect(contents[1]["ETag"] == "\"0cc175b9c0f1b6a831c399e269772661-2\"")
        #expect(contents[0]["LastModified"] == "2026-11-26T02:30:00.000Z")
        #expect(contents[0]["ID"] == "owner-id" && contents[0]["DisplayName"] == "lifeboat")
        #expect((document.records["CommonPrefixes"] ?? []).map { $0["Prefix"] } == ["repo/index/", "repo/keys & locks/"])
        // The page's own fields are not overwritten by the records' elements of the same name (Prefix, Key).
        #expect(document.fields["Prefix"] == "repo/")
        #expect(document.fields["Key"] == nil)
        #expect(document.fields["IsTruncated"] == "true")
        #expect(document.fields["NextContinuationToken"] == "1/AbC+dEf&gh==")
        #expect(document.fields["ContinuationToken"] == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        #expect(document.fields["KeyCount"] == "6")
        #expect(document.fields["Name"] == "lifeboat-bucket")
    }

    @Test("the last page: not truncated, no next token; an empty listing is complete with no records")
    func lastAndEmptyPages() {
        let last = S3XMLTests.parse("""
            <ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount>\
            <IsTruncated>false</IsTruncated><Contents><Key>only</Key><Size>1</Size></Contents></ListBucketResult>
            """)
        #expect(last.complete)
        #expect(last.fields["IsTruncated"] == "false")
        #expect(last.fields["NextContinuationToken"] == nil)
        #expect(last.fields["Prefix"] == "")
        #expect(last.records["Contents"]?.map { $0["Key"] } == ["only"])

        let empty = S3XMLTests.parse("<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount>"
            + "<IsTruncated>false</IsTruncated></ListBucketResult>\n")
        #expect(empty.complete)
        #expect(empty.records.isEmpty)
        #expect(empty.fields["KeyCount"] == "0" && empty.fields["IsTruncated"] == "false")
        #expect(empty.fields["Prefix"] == "")
    }

    @Test("1000 keys on one page are 1000 records, in order")
    func fullPage() {
        let keys = (0..<1000).map { String(format: "repo/chunks/%04d&x", $0) }
        let body = "<ListBucketResult><KeyCount>1000</KeyCount><IsTruncated>true</IsTruncated>"
            + keys.map { "<Contents><Key>\(S3XML.escape($0))</Key><Size>1</Size></Contents>" }.joined()
            + "<NextContinuationToken>t</NextContinuationToken></ListBucketResult>"
        let document = S3XMLTests.parse(body)
        #expect(document.complete)
        #expect(document.records["Contents"]?.compactMap { $0["Key"] } == keys)
    }

    // MARK: - Other answers

    @Test("error documents give their Code and Message; other bodies are no error")
    func errorDocuments() {
        let noSuchKey = S3XML.error(Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>\
            <Key>repo/a&amp;b</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>
            """.utf8))
        #expect(noSuchKey?.code == "NoSuchKey")
        #expect(noSuchKey?.message == "The specified key does not exist.")

        let escaped = S3XML.error(Array("<Error><Code>SignatureDoesNotMatch</Code><Message>a &lt;b&gt; &amp; c</Message></Error>".utf8))
        #expect(escaped?.code == "SignatureDoesNotMatch" && escaped?.message == "a <b> & c")

        let codeOnly = S3XML.error(Array("<Error><Code>SlowDown</Code></Error>".utf8))
        #expect(codeOnly?.code == "SlowDown" && codeOnly?.message == "")

        #expect(S3XML.error([]) == nil)
        #expect(S3XML.error(Array("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>".utf8)) == nil)
        #expect(S3XML.error(Array("<html><body><h1>502 Bad Gateway</h1></body></html>".utf8)) == nil)
        #expect(S3XML.error([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x3c, 0x45, 0xff]) == nil)  // binary object data
        // A body of 1 MiB or more is not read as an error document.
        let padding = String(repeating: " ", count: 1 << 20)
        #expect(S3XML.error(Array("<Error><Code>NoSuchKey</Code>\(padding)</Error>".utf8)) == nil)
    }

    @Test("InitiateMultipartUpload: the UploadId; ListMultipartUploads: one record per upload and the markers")
    func multipartAnswers() {
        let initiated = S3XMLTests.parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Bucket>lifeboat-bucket</Bucket><Key>repo/packs/a&amp;b</Key>\
            <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA.-_~</UploadId>\
            </InitiateMultipartUploadResult>
            """, records: [])
        #expect(initiated.complete)
        #expect(initiated.fields["UploadId"] == "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA.-_~")
        #expect(initiated.fields["Key"] == "repo/packs/a&b")

        let uploads = S3XMLTests.parse("""
            <ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
            <NextKeyMarker>repo/z</NextKeyMarker><NextUploadIdMarker>id-2</NextUploadIdMarker>\
            <IsTruncated>true</IsTruncated>\
            <Upload><Key>repo/a</Key><UploadId>id-1</UploadId><Initiator><ID>i</ID></Initiator>\
            <Initiated>2026-11-26T02:30:00.000Z</Initiated></Upload>\
            <Upload><Key>repo/z</Key><UploadId>id-2</UploadId><Initiated>2026-11-27T02:30:00Z</Initiated></Upload>\
            </ListMultipartUploadsResult>
            """, records: ["Upload"])
        #expect(uploads.complete)
        #expect(uploads.records["Upload"]?.map { [$0["Key"], $0["UploadId"], $0["Initiated"]] } == [
            ["repo/a", "id-1", "2026-11-26T02:30:00.000Z"], ["repo/z", "id-2", "2026-11-27T02:30:00Z"],
        ])
        #expect(uploads.fields["NextKeyMarker"] == "repo/z" && uploads.fields["NextUploadIdMarker"] == "id-2")
        #expect(uploads.fields["Key"] == nil && uploads.fields["UploadId"] == nil)
    }

    @Test("escape is undone by the parser, quotes and ampersands included (ETags in CompleteMultipartUpload)")
    func escapeRoundTrip() {
        for text in ["\"9b2cf535f27731c974343645a3985328\"", "a&b<c>d\"e'f", "&amp;lt;", "données 🚀"] {
            let document = S3XMLTests.parse("<R><ETag>\(S3XML.escape(text))</ETag></R>", records: [])
            #expect(document.complete)
            #expect(document.fields["ETag"] == text)
        }
        #expect(S3XML.escape("&lt;") == "&amp;lt;")
        #expect(S3XML.escape("a<b>\"c\"&") == "a&lt;b&gt;&quot;c&quot;&amp;")
    }

    // MARK: - Cut, malformed and hostile answers: never a whole (shorter) listing

    @Test("a listing cut anywhere is incomplete, after a whole record and before the root's end tag too")
    func cutListings() {
        let full = Array(S3XMLTests.truncatedPage.utf8)
        #expect(S3XML(full, recordElements: S3XMLTests.listing).complete)
        let afterRecord = S3XMLTests.truncatedPage.range(of: "</Contents>")!.upperBound
        let cuts = [
            String(S3XMLTests.truncatedPage[..<afterRecord]),
            String(S3XMLTests.truncatedPage[..<afterRecord]) + "\n  ",
            S3XMLTests.truncatedPage.replacingOccurrences(of: "</ListBucketResult>", with: ""),
            S3XMLTests.truncatedPage.replacingOccurrences(of: "</ListBucketResult>", with: "</ListBucketResult"),
        ]
        for cut in cuts {
            #expect(!S3XMLTests.parse(cut).complete, "\(cut.suffix(40))")
        }
        // Every byte boundary of a small page.
        let small = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key></Contents></ListBucketResult>"
        for length in 0..<small.utf8.count {
            let cut = Array(small.utf8.prefix(length))
            #expect(!S3XML(cut, recordElements: S3XMLTests.listing).complete, "cut at \(length)")
        }
    }

    @Test("malformed documents are incomplete: bad entities, a bare ampersand, crossed tags, trailing junk, not XML")
    func malformed() {
        let bodies = [
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&nbsp;b</Key></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&b</Key></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Contents></Key></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>junk",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key></Contents></listbucketresult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>\u{0}</Key></Contents></ListBucketResult>",
            "Service Unavailable",
            "",
            "   \n",
            "<",
        ]
        for body in bodies {
            let document = S3XMLTests.parse(body)
            #expect(!document.complete, "\(body.debugDescription)")
        }
        // Bytes that are not UTF-8 where the document says UTF-8.
        let invalid: [UInt8] = Array("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>".utf8)
            + [0xff, 0xfe] + Array("</Key></Contents></ListBucketResult>".utf8)
        #expect(!S3XML(invalid, recordElements: S3XMLTests.listing).complete)
    }

    @Test("a well-formed page that is not a listing (a proxy's XHTML page) has no IsTruncated, which listings require")
    func notAListing() {
        let page = S3XMLTests.parse("<html><head><title>502</title></head><body><h1>Bad Gateway</h1></body></html>")
        #expect(page.records.isEmpty)
        #expect(page.fields["IsTruncated"] == nil)
    }

    @Test("a document the XML parser reports errors in is incomplete even when it ends in its root's end tag")
    func parserErrorsMakeItIncomplete() {
        // An element left open in the middle of a page: libxml2 reports the mismatch, recovers, nests the next
        // record into the open one (key "a" is overwritten by "b") and drops the root's end; `parse()` still
        // returns true on Linux, and the text ends in `</ListBucketResult>`.
        let damaged = S3XMLTests.parse("<ListBucketResult><IsTruncated>false</IsTruncated>"
            + "<Contents><Key>a</Key><Size>1</Contents><Contents><Key>b</Key></Contents>"
            + "<Contents><Key>c</Key></Contents></ListBucketResult>")
        #expect(!damaged.complete, "complete, with keys \((damaged.records["Contents"] ?? []).map { $0["Key"] })")
        let bodies = [
            "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult><ListBucketResult></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Contents></ListBucketResult>",
            "<html><body>unclosed<br></body></html>",
        ]
        for body in bodies {
            #expect(!S3XMLTests.parse(body).complete, "\(body)")
        }
    }

    @Test("external entities are never read: no file's content in a key or a field")
    func externalEntities() throws {
        let secret = try TemporaryFile(contents: "top-secret-\(UInt64.random(in: 0...UInt64.max))")
        defer { secret.remove() }
        let body = """
            <?xml version="1.0"?>
            <!DOCTYPE ListBucketResult [<!ENTITY xxe SYSTEM "file://\(secret.path)">]>
            <ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k&xxe;</Key></Contents></ListBucketResult>
            """
        let document = S3XMLTests.parse(body)
        let keys = (document.records["Contents"] ?? []).compactMap { $0["Key"] }
        #expect(!keys.contains { $0.contains("top-secret") }, "\(keys)")
        #expect(!document.fields.values.contains { $0.contains("top-secret") })
    }

    @Test("an entity the document's DTD defines does not silently become an empty key")
    func internalEntity() {
        // Not a listing S3 sends: refusing it is right; a complete listing must hold the key.
        let defined = S3XMLTests.parse("""
            <!DOCTYPE ListBucketResult [<!ENTITY pack "repo/packs/p1">]>
            <ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&pack;</Key></Contents></ListBucketResult>
            """)
        if defined.complete {
            #expect(defined.records["Contents"]?.map { $0["Key"] } == ["repo/packs/p1"])
        }
    }

    @Test("exponential entity expansion (billion laughs) is refused quickly, never expanded into a key")
    func billionLaughs() {
        var entities = "<!ENTITY l0 \"lollollollollollollollollollol\">"
        for level in 1...10 {
            entities += "<!ENTITY l\(level) \"" + String(repeating: "&l\(level - 1);", count: 10) + "\">"
        }
        let body = "<?xml version=\"1.0\"?><!DOCTYPE ListBucketResult [\(entities)]>"
            + "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&l10;</Key></Contents></ListBucketResult>"
        let started = Date()
        let document = S3XMLTests.parse(body)
        #expect(Date().timeIntervalSince(started) < 5)
        let longest = (document.records["Contents"] ?? []).compactMap { $0["Key"]?.utf8.count }.max() ?? 0
        #expect(longest < 1 << 20, "a key of \(longest) bytes")
        #expect(!document.complete)
    }

    @Test("CDATA text is part of the element's text, not dropped (a key must not become empty)")
    func cdata() {
        let document = S3XMLTests.parse("""
            <ListBucketResult><IsTruncated>false</IsTruncated>\
            <Contents><Key><![CDATA[repo/a<b>&c]]></Key><Size>1</Size></Contents></ListBucketResult>
            """)
        // Refusing the document is right too; a complete listing must hold the key.
        if document.complete {
            #expect(document.records["Contents"]?.map { $0["Key"] } == ["repo/a<b>&c"])
        }
    }

    @Test("comments and processing instructions inside text do not cut it")
    func commentsInsideText() {
        let document = S3XMLTests.parse("""
            <ListBucketResult><!-- page 1 --><IsTruncated>false</IsTruncated>\
            <Contents><Key>repo/<!-- x -->a<?pi y?>b</Key></Contents></ListBucketResult>
            """)
        #expect(document.complete)
        #expect(document.records["Contents"]?.map { $0["Key"] } == ["repo/ab"])
        #expect(document.fields["IsTruncated"] == "false")
    }
}

/// A file with known content, removed by `remove()`.
struct TemporaryFile {
    let path: String

    init(contents: String) throws {
        path = NSTemporaryDirectory() + "/lifeboat-s3xml-\(UUID().uuidString)"
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
