import Foundation
import TestSupport
import Testing

/// Secrets stay out of process arguments, stored git configuration and children's environments.
@Suite("secrets out of arguments and inherited environments", .serialized)
struct SecretsTests {
    @Test("a mirror needing a password: git gets it through GIT_ASKPASS, never in argv or the cache's config; git inherits no Lifeboat secret")
    func gitCredentials() async throws {
        let fixture = try GitFixture()
        try fixture.commit("a.txt", "one")
        try fixture.push(["origin", "main"])
        let token = "tok-\(UUID().uuidString)"
        let mirror = try fixture.bare("served.git")
        _ = mirror
        let server = try await GitHTTPServer(root: fixture.folder.path, user: "ci", password: token)

        // A `git` first on PATH that records its arguments and environment, then runs the real one.
        let tools = try TemporaryDirectory(prefix: "lifeboat-gitlog")
        defer { tools.remove() }
        let log = tools.file("calls.log")
        let wrapper = try tools.write("git", "#!/bin/sh\n{ echo \"ARGV $*\"; env | sed 's/^/ENV /'; } >> \(log)\nexec /usr/bin/git \"$@\"\n")
        chmod(wrapper, 0o755)
        let path = tools.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let bench = try CLIBench(environment: ["MIRROR_TOKEN": token, "PATH": path, "LIFEBOAT_PASSPHRASE": "lifeboat-secret-1",
                                               "AWS_SECRET_ACCESS_KEY": "aws-secret-2"])
        try bench.plan("lifeboat.yaml", """
            git:
              app:
                source: "\(server.url("source.git", user: "ci", password: "${env:MIRROR_TOKEN}"))"
                mirrors: ["\(server.url("served.git", user: "ci", password: "${env:MIRROR_TOKEN}"))"]
            """)
        let plan = try bench.plan("mirror.yaml", """
            plan: mirrors
            kind: backup
            steps:
              - { id: mirror, uses: git.mirror, with: { source_retries: 0 } }
            """)
        for round in 0..<2 {  // the second run fetches into the cache made by the first
            let result = try bench.run(["run", plan])
            #expect(result.status == 0, "round \(round): \(result.stdout)\(result.stderr)")
        }
        #expect(try fixture.refs(fixture.folder.file("served.git")) == fixture.refs(fixture.source))

        let calls = try String(contentsOfFile: log, encoding: .utf8)
        let argv = calls.split(separator: "\n").filter { $0.hasPrefix("ARGV ") }
        #expect(argv.count >= 3)
        #expect(!argv.contains { $0.contains(token) }, "a token in git's arguments")
        #expect(!calls.contains("lifeboat-secret-1") && !calls.contains("aws-secret-2"), "git inherited Lifeboat's secrets")
        // Nothing Lifeboat keeps (the cache's git config, the catalog) holds the token.
        let grep = try ProcessRunner.run("/bin/grep", ["-rl", token, bench.folder.path])
        #expect(grep.stdout.isEmpty, "the token is stored in: \(grep.stdout)")
    }

    @Test("exec steps inherit no LIFEBOAT_* or AWS_* variable unless the step names it; plan check warns about secrets in command")
    func execEnvironment() throws {
        let bench = try CLIBench(environment: ["LIFEBOAT_PASSPHRASE": "lifeboat-secret-3", "AWS_SECRET_ACCESS_KEY": "aws-secret-4",
                                               "API_TOKEN": "api-secret-5"])
        let out = bench.folder.file("env.out")
        let plan = try bench.plan("exec.yaml", """
            plan: envcheck
            kind: backup
            steps:
              - id: dump
                uses: exec
                with:
                  command: [sh, -c, 'env > \(out)']
                  env: { AWS_PROFILE: chosen, TOKEN: "${env:API_TOKEN}" }
            """)
        let result = try bench.run(["run", plan])
        #expect(result.status == 0, "\(result.stderr)")
        let seen = try String(contentsOfFile: out, encoding: .utf8)
        #expect(!seen.contains("lifeboat-secret-3") && !seen.contains("aws-secret-4"), "\(seen)")
        #expect(seen.contains("AWS_PROFILE=chosen") && seen.contains("TOKEN=api-secret-5"))
        #expect(seen.contains("PATH="))

        let leaky = try bench.plan("leaky.yaml", """
            plan: leaky
            kind: backup
            steps:
              - { id: call, uses: exec, with: { command: [curl, -H, "Authorization: ${env:API_TOKEN}", "https://example.invalid"] } }
            """)
        let checked = try bench.run(["plan", "check", leaky])
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stderr.contains("visible in the process list") && checked.stderr.contains("leaky.yaml:"), "\(checked.stderr)")
    }
}
