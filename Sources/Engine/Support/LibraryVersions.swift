import LifeboatHTTP
import Postgres
import Repository

/// The C libraries this build runs with, for `lifeboat version` and bug reports.
public enum LibraryVersions {
    public static var all: [(name: String, version: String)] {
        [
            ("libpq", PostgresLibrary.version),
            ("libzstd", RepositoryLibraries.zstd),
            ("openssl", RepositoryLibraries.openSSL),
            ("libcurl", CurlLibrary.version),
        ]
    }
}
