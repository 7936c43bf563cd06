/// A run of selected pages inside one mapping.
struct PlannedRun: Equatable {
    /// Index of the mapping in the report.
    var mapping: Int
    /// The first page's address.
    var address: UInt
    /// How many pages.
    var pages: Int
}
