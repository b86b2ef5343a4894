/// A plain-text table whose cells wrap within fixed column widths, for terminal output.
///
/// Cells break at spaces, then after commas, then anywhere; the last column is not padded, so
/// no line ends in spaces.
struct CatalogTextTable {
    struct Column {
        var title: String
        var width: Int
    }

    var columns: [Column]
    var rows: [[String]] = []
    /// Full-width lines printed under a row, by row index (e.g. a row's configuration keys).
    var trailers: [Int: [String]] = [:]
    /// Between columns.
    var gap = "  "

    init(_ columns: [(String, Int)]) {
        self.columns = columns.map { Column(title: $0.0, width: $0.1) }
    }

    /// Header, a rule, then each row (continuation lines under their cells).
    func render(indent: String = "") -> [String] {
        var lines = [line(columns.map(\.title), indent: indent)]
        lines.append(indent + columns.enumerated().map { index, column in
            String(repeating: "-", count: index == columns.count - 1 ? max(column.title.count, min(column.width, 12)) : column.width)
        }.joined(separator: gap))
        for (rowIndex, row) in rows.enumerated() {
            defer { lines += (trailers[rowIndex] ?? []).map { indent + $0 } }
            let wrapped = zip(columns, row).map { Self.wrap($1, width: $0.width) }
            let height = wrapped.map(\.count).max() ?? 1
            for index in 0..<height {
                lines.append(line(wrapped.map { index < $0.count ? $0[index] : "" }, indent: indent))
            }
        }
        return lines
    }

    private func line(_ cells: [String], indent: String) -> String {
        var text = indent
        for (index, cell) in cells.enumerated() {
            if index == cells.count - 1 {
                text += cell
            } else {
                text += cell.padding(toLength: columns[index].width, withPad: " ", startingAt: 0) + gap
            }
        }
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }

    /// Greedy wrap of `text` into lines of at most `width` characters.
    static func wrap(_ text: String, width: Int) -> [String] {
        // (piece, glued): a glued piece continues the previous one without a space.
        var pieces: [(String, Bool)] = []
        for word in text.split(separator: " ") {
            for (index, piece) in split(String(word), width: width).enumerated() {
                pieces.append((piece, index > 0))
            }
        }
        var lines: [String] = []
        var current = ""
        for (piece, glued) in pieces {
            let joined = current.isEmpty ? piece : current + (glued ? "" : " ") + piece
            if joined.count <= width || current.isEmpty {
                current = joined
            } else {
                lines.append(current)
                current = piece
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines.isEmpty ? [""] : lines
    }

    /// A word longer than `width` broken after commas (`A,B,C,D,F,G`), then hard.
    private static func split(_ word: String, width: Int) -> [String] {
        guard word.count > width else { return [word] }
        var parts: [String] = []
        var current = ""
        let segments = word.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for (index, segment) in segments.enumerated() {
            let piece = segment + (index < segments.count - 1 ? "," : "")
            if current.isEmpty || current.count + piece.count <= width {
                current += piece
            } else {
                parts.append(current)
                current = piece
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts.flatMap { part -> [String] in
            guard part.count > width else { return [part] }
            var chunks: [String] = []
            var rest = Substring(part)
            while !rest.isEmpty {
                chunks.append(String(rest.prefix(width)))
                rest = rest.dropFirst(width)
            }
            return chunks
        }
    }
}
