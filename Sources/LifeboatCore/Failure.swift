/// What kind of failure an error is. The command line maps each code to one exit status (its `ExitCodes` table is
/// the only place that does); code elsewhere branches on the code, never on message text.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    private let name: String
    private init(_ name: String) { self.name = name }
    public var description: String { name }

    /// A run or a step failed; an operation did not complete for a reason of no other kind.
    public static let runFailed = ErrorCode("run failed")
    /// A plan, a file, a request or a command line is invalid.
    public static let invalidInput = ErrorCode("invalid input")
    /// No such run, plan, backup or object.
    public static let notFound = ErrorCode("not found")
    /// The request is not allowed (e.g. removing the last key of a repository).
    public static let refused = ErrorCode("refused")
    /// Data is missing, fails authentication, or does not match its name.
    public static let damaged = ErrorCode("damaged")
    /// A write would replace an object with different content (e.g. a WAL segment pushed twice, differently).
    public static let conflict = ErrorCode("conflict")
    /// No repository at the location, or it is not initialised.
    public static let notInitialised = ErrorCode("not initialised")
    /// The same code as `notInitialised`, under the name commands use.
    public static let repositoryMissing = notInitialised
    /// The repository has an older format: `repo upgrade` turns it into the current one.
    public static let outdated = ErrorCode("outdated")
    /// The passphrase or key file does not open the repository.
    public static let wrongKey = ErrorCode("wrong key")
    /// Another process holds the lock, or this process lost it.
    public static let locked = ErrorCode("locked")
    /// Lifeboat's own state (state directory, catalog) is missing or unusable.
    public static let state = ErrorCode("state")
    /// The file system or a child program failed.
    public static let io = ErrorCode("i/o")
    /// The operation was cancelled by a signal.
    public static let cancelled = ErrorCode("cancelled")
}

/// The one shape every Lifeboat error has: a code (which decides the exit status), a message that says what went
/// wrong, a hint that says what to do, and the error it was caused by, if any. Messages never contain secrets.
///
/// Each module has its own error type (`RepositoryError`, `PostgresError`, `MirrorError`, …) adopting this, so an
/// error crosses module boundaries as it is: nothing re-wraps it only to choose an exit code.
public protocol LifeboatFailure: Error, CustomStringConvertible {
    var code: ErrorCode { get }
    var message: String { get }
    var hint: String? { get }
    var cause: (any Error)? { get }
}

extension LifeboatFailure {
    public var hint: String? { nil }
    public var cause: (any Error)? { nil }
    /// The message, and the hint on a line of its own.
    public var description: String { hint.map { "\(message)\nhint: \($0)" } ?? message }
}

/// An error of the orchestration and the command line, or any module's error carried on with its code.
public struct LifeboatError: LifeboatFailure, Sendable {
    public typealias Code = ErrorCode

    public var code: ErrorCode
    public var message: String
    public var hint: String?
    public var cause: (any Error)?

    public init(_ code: ErrorCode, _ message: String, hint: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// Any module's error, keeping its code, message and hint (for functions that throw `LifeboatError` only).
    public init(_ failure: some LifeboatFailure) {
        if let same = failure as? LifeboatError {
            self = same
        } else {
            self.init(failure.code, failure.message, hint: failure.hint, cause: failure)
        }
    }

    /// Any error: a `LifeboatFailure` keeps its code; anything else becomes `runFailed` with its description.
    public init(any error: any Error) {
        if let failure = error as? any LifeboatFailure {
            self.init(failure)
        } else {
            self.init(.runFailed, String(describing: error), cause: error)
        }
    }
}

extension LifeboatError {
    /// `error` with what was being done in front of its message ("backup failed: …"), keeping its code and hint.
    public init(_ context: String, _ error: any Error) {
        let inner = LifeboatError(any: error)
        self.init(inner.code, "\(context): \(inner.message)", hint: inner.hint, cause: error)
    }
}
