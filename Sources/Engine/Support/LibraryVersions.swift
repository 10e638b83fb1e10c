import LifeboatHTTP
import Postgres
import Repository
import LifeboatCrypto

/// The C libraries this build runs with, for `lifeboat version` and bug reports.
public enum LibraryVersions {
    public static var all: [(name: String, version: String)] {
        [
            ("libpq", PostgresLibrary.version),
            ("libzstd", ZstdLibrary.version),
            ("openssl", CryptoLibrary.openSSL),
            ("libcurl", CurlLibrary.version),
        ]
    }
}
