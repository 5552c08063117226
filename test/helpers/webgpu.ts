/**
 * onnxruntime-node's WebGPU provider on a machine without a GPU: Dawn over SwiftShader's Vulkan
 * (the ICD that Debian's chromium package ships). SwiftShader proves correctness, not speed.
 * A test that needs it fails, saying what to install, when it is missing: never a silent skip.
 */
import { existsSync } from 'node:fs';

/** Debian's chromium package installs SwiftShader's Vulkan ICD here. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Points Vulkan at SwiftShader unless the environment already names an ICD (a real GPU's), before
 * the first WebGPU session of this process is created.
 * @returns the environment a child process needs for the same
 */
export function useSwiftShader(): Record<string, string> {
  if (!process.env.VK_ICD_FILENAMES) {
    if (!existsSync(SWIFTSHADER_ICD)) {
      throw new Error(`WebGPU tests need a Vulkan driver: ${SWIFTSHADER_ICD} (SwiftShader, from Debian's chromium package: apt-get install chromium, or npm run setup:test) or VK_ICD_FILENAMES naming a GPU's ICD`);
    }
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  return { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES! };
}
