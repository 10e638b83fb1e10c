import Foundation
import Plans
import Postgres
import Subprocess
import SystemPackage
import LifeboatCore

/// `exec`: runs a command (an argument list, no shell) and fails when it exits non-zero.
///
/// The command runs in its own session and process group; when the step is cancelled or times out, the whole group
/// gets SIGTERM, then SIGKILL after a grace period, so nothing it started is left behind.
enum ExecStep {
    static let gracePeriod: Duration = .seconds(5)

    static let schema = StepSchema(
        name: "exec",
        summary: "run a command; a non-zero exit fails the step",
        parameters: [
            ParameterSpec("command", .list(.string), required: true, "the program and its arguments, as a list"),
            ParameterSpec("env", .stringMap, "extra environment variables"),
            ParameterSpec("working_directory", .string, "folder to run in (default: the current one)"),
            ParameterSpec("inherit_env", .boolean,
                          "pass Lifeboat's environment on (default true), without LIFEBOAT_* and AWS_* (name those in env)"),
        ],
        example: "    with:\n      command: [pg_isready, -h, db.internal]"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    struct ExitFailure: LifeboatFailure {
        var description: String
        var message: String { description }
        var code: ErrorCode { .runFailed }
    }

    static func run(_ context: StepContext) async throws {
        let parameters = context.step.parameters
        let words = try (parameters["command"]?.listValue ?? []).map { item in
            try context.secrets.resolve(item.stringValue ?? "")
        }
        guard let program = words.first, !program.isEmpty else {
            throw LifeboatError(.invalidInput, "'command' of step '\(context.step.id)' is empty")
        }
        var variables: [Environment.Key: String] = [:]
        for entry in parameters["env"]?.mapValue ?? [] {
            guard let key = Environment.Key(rawValue: entry.key) else { continue }
            variables[key] = try context.secrets.resolve(entry.value.stringValue ?? "")
        }
        let inherit = parameters["inherit_env"]?.booleanValue ?? true
        // Lifeboat's own secrets stay here unless the step names them in `env`.
        var inherited: [Environment.Key: String] = [:]
        if inherit {
            for (key, value) in ChildProcess.inheritedEnvironment() {
                if let key = Environment.Key(rawValue: key) { inherited[key] = value }
            }
        }
        let environment: Environment = .custom(inherited.merging(variables) { $1 })
        let directory = try context.string("working_directory")
        if let directory, !FileManager.default.fileExists(atPath: directory) {
            throw LifeboatError(.runFailed, "working directory \(directory) does not exist")
        }

        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: gracePeriod)]

        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        context.logger.info("running \(context.secrets.redactor.redact(words.joined(separator: " ")))")
        let output = context.output
        let result: ExecutionResult<Void, SequenceOutput, CombinedErrorOutput>
        do {
            result = try await Subprocess.run(
                executable,
                arguments: Arguments(Array(words.dropFirst())),
                environment: environment,
                workingDirectory: directory.map { FilePath($0) },
                platformOptions: options,
                input: .none,
                output: .sequence,
                error: .combinedWithOutput
            ) { execution in
                for try await buffer in execution.standardOutput {
                    buffer.withUnsafeBytes { output.append(UnsafeRawBufferPointer($0)) }
                }
            }
        } catch let error as SubprocessError {
            output.finish()
            try Task.checkCancellation()
            throw LifeboatError(.runFailed, "cannot run '\(program)': \(error)",
                                hint: "check that the program exists and is executable (PATH is searched)")
        }
        output.finish()
        try Task.checkCancellation()
        switch result.terminationStatus {
        case .exited(0):
            return
        case .exited(let code):
            let last = output.lastLine.map { ": \($0)" } ?? ""
            throw ExitFailure(description: "'\(program)' exited with status \(code)\(last)")
        case .signaled(let signal):
            throw ExitFailure(description: "'\(program)' was killed by signal \(signal)")
        }
    }
}
