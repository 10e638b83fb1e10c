/// An error that ends a command, with a category that decides the exit code and a message for the operator.
///
/// Messages say what went wrong and what to do, and never contain secrets.
public struct LifeboatError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; each maps to one documented exit code (see the CLI's `ExitCodes.swift`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A run or a step failed.
        public static let runFailed = Code("run failed")
        /// A plan, a file or a command line is invalid.
        public static let invalidInput = Code("invalid input")
        /// Another process holds the lock.
        public static let locked = Code("locked")
        /// The run was cancelled by a signal.
        public static let cancelled = Code("cancelled")
        /// Something is missing or broken in Lifeboat's own state (catalog, state directory).
        public static let state = Code("state")
        /// No such run, plan or object.
        public static let notFound = Code("not found")
        /// No repository at the given location, or it is not initialised.
        public static let repositoryMissing = Code("repository missing")
        /// The passphrase or key file does not open the repository.
        public static let wrongKey = Code("wrong key")
        /// Verification or a restore found missing or damaged data.
        public static let damaged = Code("damaged")
    }

    public var code: Code
    public var message: String
    public var hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String {
        hint.map { "\(message)\nhint: \($0)" } ?? message
    }
}
