import ConnectorKit

/// The keys every file source shares (`files`, `smb`, `sftp`): which files, when a file counts as
/// written, and what happens to it once loaded. Decoded from the source's own table, flat.
public struct FileSelection: Decodable, Sendable {
    public enum AfterLoadMode: String, ConfigEnum { case keep, delete, move }

    /// Which files to read, relative to the source's folder: `*.csv`, `**/*.txt`.
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
        case glob, recursive, settle
        case afterLoad = "after_load"
        case moveTo = "move_to"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        glob = try c.decodeIfPresent(String.self, forKey: .glob) ?? glob
        recursive = try c.decodeIfPresent(Bool.self, forKey: .recursive) ?? recursive
        settle = try c.decodeIfPresent(ConfigDuration.self, forKey: .settle) ?? settle
        afterLoad = try c.decodeIfPresent(AfterLoadMode.self, forKey: .afterLoad) ?? afterLoad
        moveTo = try c.decodeIfPresent(String.self, forKey: .moveTo)
    }

    public func validate() throws {
        if glob.isEmpty { throw ConfigIssue(key: "glob", message: "must not be empty (use \"*\" for every file)") }
        if afterLoad == .move && (moveTo ?? "").isEmpty {
            throw ConfigIssue(key: "move_to", message: "is required when after_load = \"move\"")
        }
        if afterLoad != .move && moveTo != nil {
            throw ConfigIssue(key: "move_to", message: "is only used with after_load = \"move\"")
        }
    }

    /// The tailer's options; `moveDirectory` turns `move_to` into what the file system expects.
    public func tailerOptions(moveDirectory: (String) -> String = { $0 }) -> TailerOptions {
        let afterLoad: AfterLoad = switch self.afterLoad {
        case .keep: .keep
        case .delete: .delete
        case .move: .move(moveDirectory(moveTo ?? ""))
        }
        return TailerOptions(glob: Glob(glob, recursive: recursive), settleSeconds: settle.seconds, afterLoad: afterLoad)
    }
}
