import LifeboatCore

/// The environment variables `lifeboat --help` lists: `EnvironmentVariable.all`, the documented ones.
enum EnvironmentHelp {
    static var text: String {
        "Environment:\n" + EnvironmentVariable.all.filter(\.documented)
            .map { "  \($0.name): \($0.meaning)" }.joined(separator: "\n")
            + "\n  S3 repositories also read the standard " + EnvironmentVariable.awsVariables.joined(separator: ", ")
            + ". Programs Lifeboat starts inherit no LIFEBOAT_* or AWS_* variable."
    }
}
