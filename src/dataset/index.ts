/** The shapes dataset: seeded procedural instance-segmentation images with COCO annotations. */
export { Prng } from './prng.js';
export { ALL_SHAPE_CLASSES, EXTRA_SHAPE_CLASSES, SHAPE_CLASSES, HEART_REACH, type ShapeClass, isShapeClass, type ShapeSpec, insideTest, randomShape, rasterize } from './shapes.js';
export { type Scene, type SceneObject, type SceneOptions, drawScene, sceneDefaults } from './scene.js';
export { type CocoAnnotation, type CocoCategory, type CocoImage, type CocoInstances, maskBox, sceneAnnotations, shapeCategories } from './coco.js';
export {
  type DatasetOptions, type DatasetSummary, DatasetOptionsError, checkDatasetOptions, datasetScene, encodePng, generateDataset, imageSeed,
} from './generate.js';
export { BACKGROUND_KINDS, type BackgroundKind, DEFAULT_BACKGROUNDS, isBackgroundKind } from './background.js';
