/// An error from the backup repository: what went wrong, where, and what to do.
public struct RepositoryError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No repository at the location, or not initialised.
        public static let notInitialised = Code("not initialised")
        /// The passphrase or key file does not open any key of the repository.
        public static let wrongKey = Code("wrong key")
        /// An object is missing, fails authentication, or its content does not match its name.
        public static let damaged = Code("damaged")
        /// A write would replace an object with different content (e.g. a WAL segment pushed twice, differently).
        public static let conflict = Code("conflict")
        /// The object does not exist.
        public static let notFound = Code("not found")
        /// The request is not allowed (e.g. removing the last key).
        public static let refused = Code("refused")
        /// The repository has an older format: `repo upgrade` turns it into the current one.
        public static let outdated = Code("outdated")
        /// The file system failed.
        public static let io = Code("i/o")
        /// Another process holds the repository lock, or this process lost it.
        public static let locked = Code("locked")
    }

    public var code: Code
    public var message: String
    public var hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message)\nhint: \($0)" } ?? message }
}
