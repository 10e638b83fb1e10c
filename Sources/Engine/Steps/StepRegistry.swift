import Plans

/// A kind of step a plan can use (`uses:`): the parameters it accepts and what it does.
public struct StepType: Sendable {
    public let schema: StepSchema
    /// Runs one attempt; throws to fail it. Must end promptly when its task is cancelled.
    public let run: @Sendable (StepContext) async throws -> Void

    public init(schema: StepSchema, run: @escaping @Sendable (StepContext) async throws -> Void) {
        self.schema = schema
        self.run = run
    }
}

/// The step types Lifeboat knows, by `uses:` name. Capabilities add theirs here as they land
/// (`postgres.*`, `git.*`, `notify`, `repository.*`).
public struct StepRegistry: Sendable {
    public private(set) var types: [String: StepType]

    public init(_ types: [StepType]) {
        self.types = Dictionary(types.map { ($0.schema.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every step type this build of Lifeboat ships.
    public static let standard = StepRegistry([
        ExecStep.type, ApprovalStep.type, PostgresBackupStep.type, RepositoryExpireStep.type, RepositoryCopyStep.type,
        PostgresRestoreStep.type, PostgresCheckStep.type, PostgresHeartbeatStep.type, GitMirrorStep.type, GitVerifyStep.type,
        NotifyStep.type, PostgresPromoteStep.type, PostgresFenceStep.type, PostgresRebaselineStep.type,
    ])

    public subscript(name: String) -> StepType? { types[name] }

    /// A loader that checks plans against these step types.
    public var loader: PlanLoader { PlanLoader(stepSchemas: types.values.map(\.schema)) }
}
