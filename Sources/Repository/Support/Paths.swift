import Foundation

/// File system paths given by people: a relative path means the current directory, at the moment it is given.
public enum Paths {
    /// `path` made absolute against the current directory (or `base`), `.` components and repeated slashes
    /// dropped (`..` stays for the kernel to resolve, symbolic links included); an empty path is the current directory.
    public static func absolute(_ path: String, base: String? = nil) -> String {
        let start = base ?? FileManager.default.currentDirectoryPath
        let joined = path.hasPrefix("/") ? path : start + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
