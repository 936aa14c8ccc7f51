import ConnectorKit

/// `type = "files"`: a local folder (or a staging folder filled by rclone or a scanner).
public struct FilesConfiguration: PluginConfiguration {
    public enum AfterLoadMode: String, ConfigEnum { case keep, delete, move }

    /// The folder to read; relative paths are relative to the pipeline file's directory.
    public var path: String
    /// Which files to read, relative to `path`: `*.csv`, `**/*.txt`, `{machine}/*.log` is not a glob (see schema `derive`).
    public var glob: String = "*"
    /// A glob without `/` also matches in subfolders.
    public var recursive: Bool = false
    /// Files changed less than this long ago are left for a later run (still being written).
    public var settle: ConfigDuration = ConfigDuration(seconds: 2)
    /// What to do with a file once it is loaded to its end: keep (and tail it), delete, or move.
    public var afterLoad: AfterLoadMode = .keep
    /// Folder for `after_load = "move"`.
    public var moveTo: String?

    enum CodingKeys: String, CodingKey {
        case path, glob, recursive, settle
        case afterLoad = "after_load"
        case moveTo = "move_to"
    }

    public init(path: String) { self.path = path }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        glob = try c.decodeIfPresent(String.self, forKey: .glob) ?? glob
        recursive = try c.decodeIfPresent(Bool.self, forKey: .recursive) ?? recursive
        settle = try c.decodeIfPresent(ConfigDuration.self, forKey: .settle) ?? settle
        afterLoad = try c.decodeIfPresent(AfterLoadMode.self, forKey: .afterLoad) ?? afterLoad
        moveTo = try c.decodeIfPresent(String.self, forKey: .moveTo)
    }

    public func validate() throws {
        if path.isEmpty { throw ConfigIssue(key: "path", message: "must name a folder") }
        if glob.isEmpty { throw ConfigIssue(key: "glob", message: "must not be empty (use \"*\" for every file)") }
        if afterLoad == .move && (moveTo ?? "").isEmpty {
            throw ConfigIssue(key: "move_to", message: "is required when after_load = \"move\"")
        }
        if afterLoad != .move && moveTo != nil {
            throw ConfigIssue(key: "move_to", message: "is only used with after_load = \"move\"")
        }
    }

    public static let sample = """
        type = "files"
        path = "/srv/plant/incoming"
        glob = "**/*.csv"
        settle = "5s"
        after_load = "keep"
        """
}

extension FilesConfiguration {
    func makeSource(context: PluginBuildContext) -> TailingSource<LocalFileSystem> {
        let afterLoad: AfterLoad = switch self.afterLoad {
        case .keep: .keep
        case .delete: .delete
        case .move: .move(context.resolve(moveTo ?? ""))
        }
        return TailingSource(
            fileSystem: LocalFileSystem(root: context.resolve(path)),
            options: TailerOptions(glob: Glob(glob, recursive: recursive), settleSeconds: settle.seconds, afterLoad: afterLoad))
    }
}
