import LifeboatCore

/// An error from the backup repository: what went wrong, where, and what to do. Its codes are the shared
/// `ErrorCode`s: `notInitialised`, `outdated`, `wrongKey`, `damaged`, `conflict`, `notFound`, `refused`, `io`,
/// `locked`.
public struct RepositoryError: LifeboatFailure, Sendable {
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
}
