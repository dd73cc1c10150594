import path from 'node:path';
import { decodeImage, type DecodedImage } from './decode-image.ts';
import { DataImportError } from './errors.ts';
import type { ImageSet } from './image-set.ts';
import { toFloatChannels } from './pixels.ts';
import { listFolder, readFileOrThrow, type FolderEntry } from './read-file.ts';
import { resizeBilinear } from './resize.ts';

export interface ImageFolderOptions {
  /**
   * 'auto' (default): class sub-folders if there are any, else a flat unlabelled folder.
   * true: require class sub-folders. false: ignore any sub-folder structure and load every
   * image in the folder and its immediate sub-folders without labels.
   */
  labelled?: 'auto' | boolean;
  /** Convert everything to one luma channel. Otherwise colour wins if any image has colour. */
  grayscale?: boolean;
  /** [height, width] to resize every image to; without it all images must already match. */
  size?: [number, number];
}

/**
 * Extensions treated as images. Formats we cannot decode are included so that a GIF in a
 * dataset is reported rather than silently left out of training.
 */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.jpe', '.jfif', '.gif', '.bmp', '.webp', '.tif', '.tiff']);

export function isImageFileName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** Hidden entries (.DS_Store, ._x.png resource forks, .git) are never data. */
function visible(entries: FolderEntry[]): FolderEntry[] {
  return entries.filter((e) => !e.name.startsWith('.'));
}

function imagesIn(entries: FolderEntry[]): string[] {
  return entries.filter((e) => e.kind === 'file' && isImageFileName(e.name)).map((e) => e.path);
}

function listNames(paths: string[], max = 3): string {
  const names = paths.slice(0, max).map((p) => path.basename(p));
  return names.join(', ') + (paths.length > max ? `, … (${paths.length} in all)` : '');
}

interface Item {
  file: string;
  label: number;
}

function collect(dir: string, labelled: 'auto' | boolean): { items: Item[]; classNames?: string[] } {
  const entries = visible(listFolder(dir));
  const subdirs = entries.filter((e) => e.kind === 'dir');
  const loose = imagesIn(entries);

  if (labelled === false) {
    const files = [...loose, ...subdirs.flatMap((d) => imagesIn(visible(listFolder(d.path))))];
    return { items: files.map((file) => ({ file, label: -1 })) };
  }
  if (subdirs.length === 0) {
    if (labelled === true) {
      throw new DataImportError(dir, 'expected one sub-folder per class, found no sub-folders');
    }
    return { items: loose.map((file) => ({ file, label: -1 })) };
  }
  if (loose.length > 0) {
    throw new DataImportError(
      dir,
      `has loose images (${listNames(loose)}) next to class sub-folders (${listNames(subdirs.map((d) => d.path))}); ` +
        'move every image into a class sub-folder, or load it unlabelled',
    );
  }
  const items: Item[] = [];
  subdirs.forEach((sub, label) => {
    const files = imagesIn(visible(listFolder(sub.path)));
    if (files.length === 0) throw new DataImportError(sub.path, 'class folder has no PNG or JPEG images');
    for (const file of files) items.push({ file, label });
  });
  return { items, classNames: subdirs.map((d) => d.name) };
}

/**
 * Loads a folder of PNG/JPEG images: one sub-folder per class (class names are the sorted
 * sub-folder names) or a flat folder of unlabelled images. Order is sorted paths.
 */
export function loadImageFolder(dir: string, opts: ImageFolderOptions = {}): ImageSet {
  const size = opts.size;
  if (size && !(size.length === 2 && size.every((n) => Number.isInteger(n) && n > 0))) {
    throw new DataImportError(dir, `size must be [height, width] in whole pixels, got ${JSON.stringify(size)}`);
  }
  const { items, classNames } = collect(dir, opts.labelled ?? 'auto');
  if (items.length === 0) {
    throw new DataImportError(
      dir,
      'folder has no images (looked for .png, .jpg and .jpeg files and class sub-folders)',
    );
  }

  const decoded: DecodedImage[] = items.map((it) => decodeImage(it.file, readFileOrThrow(it.file)));
  const first = decoded[0];
  if (!size) {
    decoded.forEach((img, i) => {
      if (img.height !== first.height || img.width !== first.width) {
        throw new DataImportError(
          items[i].file,
          `is ${img.height}×${img.width} (height×width) but the folder's first image ` +
            `${path.relative(dir, items[0].file)} is ${first.height}×${first.width}; pass a size to resize them`,
        );
      }
    });
  }
  const height = size ? size[0] : first.height;
  const width = size ? size[1] : first.width;
  const channels: 1 | 3 = opts.grayscale || decoded.every((d) => d.channels === 1) ? 1 : 3;

  const per = height * width * channels;
  const images = new Float32Array(items.length * per);
  decoded.forEach((img, i) => {
    let pixels = toFloatChannels(img, channels);
    if (img.height !== height || img.width !== width) {
      pixels = resizeBilinear(pixels, img.height, img.width, channels, height, width);
    }
    images.set(pixels, i * per);
  });

  const set: ImageSet = { images, count: items.length, height, width, channels, source: dir };
  if (classNames) {
    set.labels = Int32Array.from(items, (it) => it.label);
    set.classNames = classNames;
  }
  return set;
}
