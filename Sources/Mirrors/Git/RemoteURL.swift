/// Mirror locations as people write them: local paths, `file://`, `ssh://`, `user@host:path`, `https://`, `git://`.
public enum RemoteURL {
    /// The URL without credentials (`https://user:secret@host/x.git` → `https://***@host/x.git`), for logs, errors,
    /// the catalog and reports.
    public static func display(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        let userInfo = rest[..<at]
        // ssh://git@host keeps its user name; anything with a password (user:secret, token) is hidden.
        if url.hasPrefix("ssh://") && !userInfo.contains(":") { return url }
        return String(url[..<scheme.upperBound]) + "***" + String(rest[at...])
    }

    /// Whether `url` names a folder on this machine (then `git fsck` can check it directly).
    public static func localPath(_ url: String) -> String? {
        if url.hasPrefix("file://") { return String(url.dropFirst("file://".count)) }
        if url.hasPrefix("/") { return url }
        return nil
    }

    public struct Credentials: Sendable, Equatable {
        public var user: String
        public var password: String?
    }

    /// An `http(s)://user:password@host/…` URL without its credentials (`http(s)://host/…`), and the credentials
    /// (percent-decoded); nil for a URL without them or of another scheme (ssh keeps its user name).
    public static func separateCredentials(_ url: String) -> (url: String, credentials: Credentials)? {
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return nil }
        let userInfo = rest[..<at]
        let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let user = parts[0].removingPercentEncoding ?? parts[0]
        let password = parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : nil
        return (String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...]), Credentials(user: user, password: password))
    }
}
