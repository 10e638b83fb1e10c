import Repository
import Testing
import LifeboatCrypto

@Suite("Digests and libraries")
struct DigestTests {
    @Test("SHA-256 matches the FIPS 180-2 test vectors")
    func sha256() {
        #expect(SHA256.hexDigest(Array("abc".utf8))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest([])
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("the linked libzstd and OpenSSL report their versions")
    func versions() {
        #expect(ZstdLibrary.version.split(separator: ".").count == 3)
        #expect(CryptoLibrary.openSSL.hasPrefix("OpenSSL 3."))
    }
}
