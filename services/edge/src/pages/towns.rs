//! Connecticut's 169 towns as the maps draw them: the Census boundaries in `data/ct_towns.geojson`
//! (compiled in; see `data/README.md` for their provenance), projected once onto the maps' plane
//! and simplified to what a 760-pixel drawing shows.

use std::sync::OnceLock;

use serde::Deserialize;

/// The boundaries, as published.
const GEOJSON: &str = include_str!("../../../../data/ct_towns.geojson");

/// The drawing's width and height, in its own units.
pub const WIDTH: f64 = 760.0;
/// Its height (Connecticut is about 1.36 times wider than tall on this projection).
pub const HEIGHT: f64 = 570.0;
/// Blank space around the state.
const MARGIN: f64 = 10.0;
/// The state's extent: west, east, south, north.
const WEST: f64 = -73.73;
const EAST: f64 = -71.78;
const SOUTH: f64 = 40.97;
const NORTH: f64 = 42.06;
/// Points closer than this to the last one kept are dropped (in drawing units).
const DETAIL: f64 = 0.6;

/// One town, ready to draw.
pub struct Town {
    /// The Census name (`Windsor Locks`).
    pub name: String,
    /// Its outline as SVG path data.
    pub path: String,
}

#[derive(Deserialize)]
struct Collection {
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    properties: Properties,
    geometry: Geometry,
}

#[derive(Deserialize)]
struct Properties {
    town: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", content = "coordinates")]
enum Geometry {
    Polygon(Vec<Vec<[f64; 2]>>),
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
}

/// A longitude and latitude on the drawing; `None` outside the state's extent. An equirectangular
/// projection at Connecticut's middle latitude: at this size no one can tell it from a conformal
/// one.
pub fn project(longitude: f64, latitude: f64) -> Option<(f64, f64)> {
    if !(WEST..=EAST).contains(&longitude) || !(SOUTH..=NORTH).contains(&latitude) {
        return None;
    }
    let squeeze = 41.5_f64.to_radians().cos();
    let scale = ((WIDTH - 2.0 * MARGIN) / ((EAST - WEST) * squeeze))
        .min((HEIGHT - 2.0 * MARGIN) / (NORTH - SOUTH));
    Some((
        MARGIN + (longitude - WEST) * squeeze * scale,
        MARGIN + (NORTH - latitude) * scale,
    ))
}

/// A ring as SVG path data, its points thinned to what shows.
fn ring_path(ring: &[[f64; 2]], out: &mut String) {
    let mut last: Option<(f64, f64)> = None;
    for [longitude, latitude] in ring {
        let Some((x, y)) = project(*longitude, *latitude) else {
            continue;
        };
        if let Some((lx, ly)) = last
            && (x - lx).hypot(y - ly) < DETAIL
        {
            continue;
        }
        out.push(if last.is_none() { 'M' } else { 'L' });
        out.push_str(&format!("{x:.1},{y:.1}"));
        last = Some((x, y));
    }
    if last.is_some() {
        out.push('Z');
    }
}

/// The towns, projected on first use.
pub fn towns() -> &'static [Town] {
    static TOWNS: OnceLock<Vec<Town>> = OnceLock::new();
    TOWNS.get_or_init(|| {
        // The file is part of the build; a test reads it, so it always parses.
        let collection: Collection = serde_json::from_str(GEOJSON).unwrap_or(Collection {
            features: Vec::new(),
        });
        collection
            .features
            .into_iter()
            .map(|feature| {
                let mut path = String::new();
                let polygons = match feature.geometry {
                    Geometry::Polygon(rings) => vec![rings],
                    Geometry::MultiPolygon(polygons) => polygons,
                };
                for ring in polygons.iter().flatten() {
                    ring_path(ring, &mut path);
                }
                Town {
                    name: feature.properties.town,
                    path,
                }
            })
            .collect()
    })
}

/// The town named `name` (any case, spaces trimmed), as the Census spells it.
pub fn find(name: &str) -> Option<&'static Town> {
    let name = name.trim();
    towns()
        .iter()
        .find(|town| town.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_169_towns_are_drawn_inside_the_picture() {
        let towns = towns();
        assert_eq!(towns.len(), 169);
        for town in towns {
            assert!(
                town.path.starts_with('M') && town.path.ends_with('Z'),
                "{}",
                town.name
            );
        }
        assert_eq!(
            find(" windsor locks ").map(|t| t.name.as_str()),
            Some("Windsor Locks")
        );
        assert!(find("Springfield").is_none());
        let (x, y) = project(-72.6851, 41.7637).expect("Hartford is in Connecticut");
        assert!((0.0..WIDTH).contains(&x) && (0.0..HEIGHT).contains(&y));
        assert!(project(-74.0, 40.7).is_none(), "New York is not");
        let bytes: usize = towns.iter().map(|town| town.path.len()).sum();
        assert!(bytes < 120_000, "the outlines stay small: {bytes} bytes");
    }
}
