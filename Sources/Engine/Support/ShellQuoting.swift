/// Words for `/bin/sh` (PostgreSQL runs `restore_command` and `archive_command` through it).
public enum ShellQuoting {
    /// `text` as one shell word, whatever it holds (spaces, quotes, `$`).
    public static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
