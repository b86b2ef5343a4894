import Foundation

/// IMAP's date forms ([RFC 3501 §9](https://www.rfc-editor.org/rfc/rfc3501#section-9)): `date`
/// (`1-Feb-2026`, SEARCH) and `date-time` (`"01-Feb-2026 13:05:00 +0100"`, INTERNALDATE, APPEND).
enum IMAPDates {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static var utc: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }

    /// `d-Mon-yyyy` as midnight UTC of that day.
    static func parseDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let day = Int(parts[0]), (1...31).contains(day), parts[0].count <= 2,
              let month = months.firstIndex(where: { $0.lowercased() == parts[1].lowercased() }),
              parts[2].count == 4, let year = Int(parts[2]) else { return nil }
        return utc.date(from: DateComponents(year: year, month: month + 1, day: day))
    }

    /// `dd-Mon-yyyy hh:mm:ss +zzzz` (the day may have a leading space instead of a zero).
    static func parseDateTime(_ text: String) -> Date? {
        let fields = text.trimmingCharacters(in: .whitespaces).split(separator: " ")
        guard fields.count == 3, let day = parseDay(String(fields[0])) else { return nil }
        let time = fields[1].split(separator: ":")
        guard time.count == 3, let hour = Int(time[0]), let minute = Int(time[1]), let second = Int(time[2]),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let zone = fields[2]
        guard zone.count == 5, let sign = zone.first, sign == "+" || sign == "-", let hhmm = Int(zone.dropFirst()) else { return nil }
        let offset = (hhmm / 100 * 3600 + hhmm % 100 * 60) * (sign == "-" ? -1 : 1)
        return day.addingTimeInterval(TimeInterval(hour * 3600 + minute * 60 + second - offset))
    }

    /// INTERNALDATE's form, in UTC: `"03-Dec-2026 17:05:09 +0000"`.
    static func format(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(two(parts.day))-\(months[(parts.month ?? 1) - 1])-\(parts.year ?? 1970) \(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) +0000"
    }

    /// The UTC day `date` falls on, as midnight.
    static func day(of date: Date) -> Date { utc.startOfDay(for: date) }
}
