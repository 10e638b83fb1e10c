internal import CZstd

extension RepositoryLibraries {
    /// libzstd's version, e.g. `1.5.4`.
    public static var zstd: String { String(cString: ZSTD_versionString()) }
}
