/**
 * An in-memory set of images, always stored NHWC as float32 in [0, 1].
 * Teachers declare their own layout and normalisation; adapters convert from this one form.
 */
export interface ImageSet {
  /** count * height * width * channels values in [0, 1], NHWC order. */
  images: Float32Array;
  /** Ground-truth class per image, or -1 where unknown. Absent for unlabelled sets. */
  labels?: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  /** Class names in index order, when the source names them. */
  classNames?: string[];
  /** Where the images came from (a path or a description), for messages and fingerprints. */
  source: string;
}

export function imageSize(set: Pick<ImageSet, 'height' | 'width' | 'channels'>): number {
  return set.height * set.width * set.channels;
}

/** A new set holding the images at the given indices, in that order. */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageSize(set);
  const images = new Float32Array(indices.length * size);
  const labels = set.labels ? new Int32Array(indices.length) : undefined;
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i];
    images.set(set.images.subarray(src * size, (src + 1) * size), i * size);
    if (labels && set.labels) labels[i] = set.labels[src];
  }
  return { ...set, images, labels, count: indices.length };
}
