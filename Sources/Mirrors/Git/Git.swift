import Foundation
import Synchronization
import Subprocess
import SystemPackage
import LifeboatCore

/// A failed git command or mirror operation; the message never holds a credential.
public struct MirrorError: LifeboatFailure, Sendable {
    public var description: String
    public var message: String { description }
    public var code: ErrorCode { .runFailed }
    public init(_ description: String) { self.description = description }
}

/// Runs the `git` binary non-interactively: it never prompts (for a password, a host key) and gives up on a stalled
/// connection, so a mirror that cannot be reached fails with a message instead of hanging a plan.
public struct Git: Sendable {
    public var executable: String
    /// Extra environment (e.g. GIT_SSH_COMMAND); the non-interactive settings are always added.
    public var environment: [String: String]
    /// Secrets to hide from error messages (credentials inside URLs, resolved from the inventory).
    public var secrets: [String]

    public init(executable: String = "git", environment: [String: String] = [:], secrets: [String] = []) {
        self.executable = executable
        self.environment = environment
        self.secrets = secrets.filter { !$0.isEmpty }
    }

    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `git ARGUMENTS` (in `directory` when given) and returns its output; with `check`, a non-zero exit throws
    /// with git's last error line. Cancelling the calling task ends git (SIGTERM to its group, then SIGKILL).
    ///
    /// Credentials never reach git's arguments (visible in `ps`) or its stored configuration: a URL's user name and
    /// password are taken out of it and answered through `GIT_ASKPASS` from git's own environment. `credentials`
    /// names the URL whose credentials a command needs when it refers to a remote by name (`fetch origin`).
    /// Lifeboat's own secrets (`LIFEBOAT_*`, `AWS_*`) are not passed on to git.
    @discardableResult
    public func run(_ arguments: [String], in directory: String? = nil, check: Bool = true,
                    timeout: Duration? = nil, input: String? = nil, credentials: String? = nil) async throws -> Output {
        var variables: [Environment.Key: String?] = [
            "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true", "SSH_ASKPASS": "/bin/true", "LC_ALL": "C",
        ]
        for key in ProcessInfo.processInfo.environment.keys where EnvironmentVariable.isPrivate(key) {
            variables[Environment.Key(rawValue: key)!] = .some(nil)
        }
        if ProcessInfo.processInfo.environment["GIT_SSH_COMMAND"] == nil {
            variables["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=20"
        }
        for (key, value) in environment { variables[Environment.Key(rawValue: key)!] = value }
        var stripped = arguments
        var found: RemoteURL.Credentials?
        for index in stripped.indices {
            if let (url, userInfo) = RemoteURL.separateCredentials(stripped[index]) {
                stripped[index] = url
                found = found ?? userInfo
            }
        }
        if found == nil, let credentials { found = RemoteURL.separateCredentials(credentials)?.credentials }
        if let found {
            variables["GIT_ASKPASS"] = try Self.askpassScript()
            variables[Environment.Key(stringLiteral: EnvironmentVariable.gitUsername.name)] = found.user
            variables[Environment.Key(stringLiteral: EnvironmentVariable.gitPassword.name)] = found.password ?? ""
        }
        // Give up on HTTP transfers slower than 1 byte/s for a minute (a dead proxy, a stuck server).
        let words = ["-c", "http.lowSpeedLimit=1", "-c", "http.lowSpeedTime=60", "-c", "credential.helper="] + stripped
        let settings = variables
        let work = { @Sendable [self] () async throws -> Output in
            try await execute(words, variables: settings, directory: directory, input: input)
        }
        let output: Output
        do {
            if let timeout {
                output = try await withThrowingTaskGroup(of: Output?.self) { group in
                    group.addTask { try await work() }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        return nil
                    }
                    defer { group.cancelAll() }
                    guard let first = try await group.next(), let finished = first else {
                        throw MirrorError("git \(redact(arguments.prefix(2).joined(separator: " "))) timed out after \(timeout)")
                    }
                    return finished
                }
            } else {
                output = try await work()
            }
        } catch let error as MirrorError {
            throw error
        } catch {
            try Task.checkCancellation()
            throw MirrorError("cannot run git: \(redact("\(error)"))")
        }
        if check && output.status != 0 {
            let why = output.stderr.split(separator: "\n").map(String.init)
                .last { $0.hasPrefix("fatal:") || $0.hasPrefix("error:") } ?? output.stderr.split(separator: "\n").last.map(String.init) ?? ""
            throw MirrorError("git \(redact(arguments.first ?? "")) failed (\(output.status)): \(redact(why))")
        }
        return output
    }

    private func execute(_ words: [String], variables: [Environment.Key: String?], directory: String?,
                         input: String?) async throws -> Output {
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(3))]
        let executable: Executable = self.executable.contains("/") ? .path(FilePath(self.executable)) : .name(self.executable)
        let result = try await Subprocess.run(
            executable, arguments: Arguments(words), environment: .inherit.updating(variables),
            workingDirectory: directory.map { FilePath($0) }, platformOptions: options, input: .string(input ?? ""),
            output: .string(limit: 64 << 20), error: .string(limit: 1 << 20))
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return Output(status: status, stdout: result.standardOutput, stderr: result.standardError)
    }

    /// A script answering git's user name and password prompts from its environment (written once, mode 0700).
    static func askpassScript() throws -> String {
        try askpass.withLock { path in
            if let path { return path }
            let folder = FileManager.default.temporaryDirectory.path + "/lifeboat-askpass-\(getuid())-\(getpid())"
            try? FileManager.default.removeItem(atPath: folder)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
            let script = folder + "/askpass"
            let text = "#!/bin/sh\ncase \"$1\" in\n  Username*) printf '%s\\n' \"$LIFEBOAT_GIT_USERNAME\" ;;\n"
                + "  *) printf '%s\\n' \"$LIFEBOAT_GIT_PASSWORD\" ;;\nesac\n"
            guard FileManager.default.createFile(atPath: script, contents: Data(text.utf8), attributes: [.posixPermissions: 0o700]) else {
                throw MirrorError("cannot write git's credential prompt script \(script)")
            }
            path = script
            return script
        }
    }

    private static let askpass = Mutex<String?>(nil)

    /// Hides secrets and URL credentials in text meant for people.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets { result = result.replacingOccurrences(of: secret, with: "***") }
        return result.split(separator: " ", omittingEmptySubsequences: false)
            .map { RemoteURL.display(String($0)) }.joined(separator: " ")
    }
}
