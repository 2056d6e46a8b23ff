//! Profiles of users and organizations: settings, avatars, and name availability.

use std::io::Cursor;

use crate::db::{Conn, OptionalExtension};
use crate::params;
use image::{imageops::FilterType, DynamicImage, GenericImageView, ImageFormat, Rgb, RgbImage};
use serde::Serialize;

use crate::accounts::User;
use crate::db::{is_unique_violation, now_str};
use crate::error::{Error, Result};
use crate::names::{self, RepoType};

/// Largest avatar accepted, before processing.
pub const MAX_AVATAR_BYTES: usize = 10 * 1024 * 1024;
const MAX_EDGE: u32 = 1024;

/// Decode an uploaded image (JPEG, PNG, WebP or GIF), flatten transparency on white, scale so
/// the short edge is at most 1024 px, crop the centre square, encode as JPEG quality 95.
pub fn process_avatar(data: &[u8]) -> Result<Vec<u8>> {
    if data.len() > MAX_AVATAR_BYTES {
        return Err(Error::PayloadTooLarge(
            "Avatars are limited to 10 MB".into(),
        ));
    }
    let format = image::guess_format(data)
        .map_err(|_| Error::bad_request("The file is not an image (JPEG, PNG, WebP or GIF)"))?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(Error::bad_request(
            "Unsupported image format: use JPEG, PNG, WebP or GIF",
        ));
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Error::bad_request(format!("Cannot decode the image: {e}")))?;
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::bad_request("Empty image"));
    }
    let mut flat = RgbImage::new(w, h);
    for (x, y, p) in rgba.enumerate_pixels() {
        let a = p[3] as u32;
        let mix = |c: u8| ((c as u32 * a + 255 * (255 - a)) / 255) as u8;
        flat.put_pixel(x, y, Rgb([mix(p[0]), mix(p[1]), mix(p[2])]));
    }
    let mut img = DynamicImage::ImageRgb8(flat);
    let short = w.min(h);
    if short > MAX_EDGE {
        let (nw, nh) = (
            ((w as u64 * MAX_EDGE as u64) / short as u64).max(1) as u32,
            ((h as u64 * MAX_EDGE as u64) / short as u64).max(1) as u32,
        );
        img = img.resize_exact(nw, nh, FilterType::Lanczos3);
    }
    let (w, h) = img.dimensions();
    let side = w.min(h);
    let img = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&img)
        .map_err(|e| Error::internal(format!("jpeg encoding failed: {e}")))?;
    Ok(out)
}

/// Storage key of an account's avatar.
pub fn avatar_key(user: &User) -> String {
    format!("avatars/{}.jpg", user.id)
}

pub fn set_avatar_time(conn: &Conn, user_id: i64, when: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE users SET avatar_updated_at = ?1 WHERE id = ?2",
        params![when, user_id],
    )?;
    Ok(())
}

pub fn avatar_time(conn: &Conn, user_id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT avatar_updated_at FROM users WHERE id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Editable profile fields (`None`: unchanged).
#[derive(Debug, Default, Clone)]
pub struct ProfileUpdate {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub bio: Option<String>,
    pub website: Option<String>,
}

pub fn update_profile(conn: &Conn, user_id: i64, upd: &ProfileUpdate) -> Result<()> {
    let check_len = |what: &str, v: &Option<String>, max: usize| match v {
        Some(s) if s.len() > max => Err(Error::bad_request(format!(
            "{what} is too long (at most {max} bytes)"
        ))),
        _ => Ok(()),
    };
    check_len("full name", &upd.full_name, 200)?;
    check_len("bio", &upd.bio, 5000)?;
    check_len("website", &upd.website, 500)?;
    if let Some(w) = &upd.website {
        if !(w.is_empty() || w.starts_with("http://") || w.starts_with("https://")) {
            return Err(Error::bad_request("website must be an http(s) URL"));
        }
    }
    if let Some(e) = &upd.email {
        let valid = e
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
            && !e.contains(char::is_whitespace);
        if !valid {
            return Err(Error::bad_request(format!("Invalid email address '{e}'")));
        }
        match conn.execute(
            "UPDATE users SET email = ?1 WHERE id = ?2",
            params![e, user_id],
        ) {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                return Err(Error::Conflict {
                    message: "This email is already used".into(),
                    url: None,
                })
            }
            Err(err) => return Err(err.into()),
        }
    }
    for (col, v) in [
        ("full_name", &upd.full_name),
        ("bio", &upd.bio),
        ("website", &upd.website),
    ] {
        if let Some(v) = v {
            conn.execute(
                &format!("UPDATE users SET {col} = ?1 WHERE id = ?2"),
                params![v, user_id],
            )?;
        }
    }
    Ok(())
}

/// Profile fields for display.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub bio: Option<String>,
    pub website: Option<String>,
    pub avatar_updated_at: Option<String>,
}

pub fn profile(conn: &Conn, user_id: i64) -> Result<Profile> {
    Ok(conn.query_row(
        "SELECT bio, website, avatar_updated_at FROM users WHERE id = ?1",
        [user_id],
        |r| {
            Ok(Profile {
                bio: r.get(0)?,
                website: r.get(1)?,
                avatar_updated_at: r.get(2)?,
            })
        },
    )?)
}

/// Answer of `check-name`.
#[derive(Debug, Clone, Serialize)]
pub struct NameCheck {
    pub available: bool,
    pub normalized_name: String,
    pub conflict_with: Option<String>,
    pub message: String,
}

/// Is `name` free as a user/org name, or (with a namespace) as a repo name of `repo_type`?
pub fn check_name(
    conn: &Conn,
    name: &str,
    namespace: Option<&str>,
    repo_type: RepoType,
) -> Result<NameCheck> {
    let normalized = names::normalize(name);
    let unavailable = |msg: String, conflict: Option<String>| NameCheck {
        available: false,
        normalized_name: normalized.clone(),
        conflict_with: conflict,
        message: msg,
    };
    match namespace {
        Some(ns) => {
            if let Err(e) = names::validate_repo_name(name) {
                return Ok(unavailable(e.to_string(), None));
            }
            let clash: Option<String> = conn
                .query_row(
                    "SELECT name FROM repos WHERE repo_type = ?1 AND namespace = ?2 AND normalized_name = ?3",
                    params![repo_type.as_str(), ns, normalized],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match clash {
                Some(existing) => unavailable(
                    format!("Repository name conflicts with existing repository: {existing} (case-insensitive)"),
                    Some(format!("{ns}/{existing}")),
                ),
                None => NameCheck { available: true, normalized_name: normalized.clone(), conflict_with: None, message: "Repository name is available".into() },
            })
        }
        None => {
            if let Err(e) = names::validate_new_namespace(name) {
                return Ok(unavailable(e.to_string(), None));
            }
            let clash: Option<(String, bool)> = conn
                .query_row(
                    "SELECT username, is_org FROM users WHERE normalized_name = ?1",
                    [&normalized],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(match clash {
                Some((existing, is_org)) => unavailable(
                    format!(
                        "Name conflicts with existing {}: {existing}",
                        if is_org { "organization" } else { "user" }
                    ),
                    Some(existing),
                ),
                None => NameCheck {
                    available: true,
                    normalized_name: normalized.clone(),
                    conflict_with: None,
                    message: "Name is available".into(),
                },
            })
        }
    }
}

/// Now, as stored in `avatar_updated_at`.
pub fn now() -> String {
    now_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_resize_and_crop() {
        let img =
            image::RgbaImage::from_fn(2048, 1500, |x, _| image::Rgba([(x % 255) as u8, 0, 0, 128]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let out = process_avatar(&png).unwrap();
        let back = image::load_from_memory_with_format(&out, ImageFormat::Jpeg).unwrap();
        assert_eq!(back.dimensions(), (1024, 1024));
        let small = image::RgbImage::from_pixel(300, 200, Rgb([1, 2, 3]));
        let mut jpg = Vec::new();
        DynamicImage::ImageRgb8(small)
            .write_to(&mut Cursor::new(&mut jpg), ImageFormat::Jpeg)
            .unwrap();
        assert_eq!(
            image::load_from_memory(&process_avatar(&jpg).unwrap())
                .unwrap()
                .dimensions(),
            (200, 200)
        );
        assert!(process_avatar(b"not an image").is_err());
        assert!(process_avatar(&vec![0u8; MAX_AVATAR_BYTES + 1]).is_err());
    }
}
