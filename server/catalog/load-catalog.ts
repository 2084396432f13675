import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { CatalogValidationError, parseCatalog, type RawCatalogFiles } from "./parse-catalog.js";
import type { Catalog } from "./types.js";

/** Where the seed catalog lives in the repository: db/seeds/catalog/. */
export const SEED_CATALOG_DIR = fileURLToPath(new URL("../../db/seeds/catalog/", import.meta.url));

const FILES = ["meta.json", "providers.json", "models.json", "route-policies.json", "workflow-products.json"] as const;

/**
 * Reads and validates the catalog's JSON files. The module's only I/O: everything else in
 * server/catalog is pure so it can be tested and reused on already-loaded data.
 */
export async function loadCatalogFromDisk(dir: string = SEED_CATALOG_DIR): Promise<Catalog> {
  const entries = await Promise.all(
    FILES.map(async (file) => {
      const text = await readFile(join(dir, file), "utf8");
      try {
        return [file, JSON.parse(text) as unknown] as const;
      } catch (err) {
        throw new CatalogValidationError([{ file, path: "", message: `not valid JSON: ${(err as Error).message}` }]);
      }
    }),
  );
  return parseCatalog(Object.fromEntries(entries) as unknown as RawCatalogFiles);
}
