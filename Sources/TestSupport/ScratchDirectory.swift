import Foundation

/// A fresh directory for one test (`<parent>/uswap-<label>-<pid>-<random>`, mode 0700), removed
/// with everything in it by ``remove()``. The default parent, /var/tmp, is a disk file system
/// (O_DIRECT, page-cache behaviour and `O_TMPFILE` as on a real swap file's disk).
///
/// ```swift
/// let directory = try ScratchDirectory("link")
/// defer { directory.remove() }
/// let target = try directory.file("target", [1, 2, 3])
/// #expect(directory.names == ["target"])
/// ```
public struct ScratchDirectory: Sendable {
    /// Its path.
    public let path: String

    /// Makes the directory.
    public init(_ label: String, in parent: String = "/var/tmp") throws {
        path = "\(parent)/uswap-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    /// Writes `bytes` to a new file `name` in the directory (mode 0644, as any other user's
    /// file would be) and returns its path.
    @discardableResult
    public func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = "\(path)/\(name)"
        guard FileManager.default.createFile(atPath: file, contents: Data(bytes), attributes: [.posixPermissions: 0o644]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file])
        }
        return file
    }

    /// The bytes of the file `name`, read without following a link at that name (a link reads
    /// as nil), or nil when there is no such file.
    public func contents(_ name: String) -> [UInt8]? {
        var info = stat()
        guard lstat("\(path)/\(name)", &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return FileManager.default.contents(atPath: "\(path)/\(name)").map { [UInt8]($0) }
    }

    /// The names in the directory, sorted (`<unreadable>` when it cannot be listed).
    public var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["<unreadable>"]).sorted()
    }

    /// Removes the directory and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
