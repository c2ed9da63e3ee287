/** The largest side Napari (and most GPU texture paths) can show as one image. */
export const MAX_VIEWABLE_SIDE = 16_384;

/** Anything with resolution levels: TIFF facts and OME-Zarr facts both carry `levels`. */
interface Leveled {
  levels: { width: number; height: number }[];
}

/**
 * A multiscale image a viewer can open as it is: more than one level, and at least one level within
 * 16k on both axes (the viewer starts there and loads finer levels as it zooms).
 */
export function viewablePyramid(image: Leveled): boolean {
  return (
    image.levels.length > 1 &&
    image.levels.some((l) => l.width <= MAX_VIEWABLE_SIDE && l.height <= MAX_VIEWABLE_SIDE)
  );
}
