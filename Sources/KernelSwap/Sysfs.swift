import SystemPackage
import SystemSupport

/// The small sysfs and procfs text files the kernel's side reads and writes, with the errors of
/// ``KernelZramError``: reads through SystemSupport's ``ProcFile``, writes as `echo value > file`.
enum Sysfs {
    /// The whole text of `path`.
    static func read(_ path: String) throws(KernelZramError) -> String {
        do { return try ProcFile.read(path) } catch { throw .sysfs(path: path, operation: "read", errno: error) }
    }

    /// The text of `path` without the whitespace around it, or nil when it cannot be read.
    static func readValue(_ path: String) -> String? { try? ProcFile.readValue(path) }

    /// Writes `value` and a newline to `path` in one write, as `echo value > path` does.
    static func write(_ value: String, to path: String) throws(KernelZramError) {
        do { try ProcFile.write(value + "\n", to: path) } catch {
            throw .sysfs(path: path, operation: "write \(value.debugDescription) to", errno: error)
        }
    }

    /// Whether `path` exists.
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Whether `path` exists and this process may write it.
    static func isWritable(_ path: String) -> Bool { access(path, W_OK) == 0 }

    /// The names in directory `path`, sorted; empty when it cannot be read.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
