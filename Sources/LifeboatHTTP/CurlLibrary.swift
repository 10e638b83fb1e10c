internal import CCurl

/// Facts about the libcurl this build runs with.
public enum CurlLibrary {
    /// libcurl's version string with its TLS backend and protocols' libraries, e.g. `libcurl/7.88.1 OpenSSL/3.0.19 ...`.
    public static var version: String { String(cString: curl_version()) }
}
