/// Images tiled into one greyscale PNG a person can look at: `columns` tiles a row, one pixel of
/// white between tiles, values clamped to [0, 1].
public enum ImageGrid {
    public static func write(_ tiles: [[Float]], tile: ImageShape, columns: Int, to path: String) throws {
        let rows = (tiles.count + columns - 1) / columns
        let (width, height) = (columns * (tile.width + 1) + 1, rows * (tile.height + 1) + 1)
        var pixels = [Float](repeating: 1, count: width * height)
        for (n, image) in tiles.enumerated() {
            let (top, left) = ((n / columns) * (tile.height + 1) + 1, (n % columns) * (tile.width + 1) + 1)
            for y in 0..<tile.height {
                for x in 0..<tile.width { pixels[(top + y) * width + left + x] = image[y * tile.width + x] }
            }
        }
        try PNG.writeGreyscale(pixels, width: width, height: height, to: path)
    }
}
