/**
 * Declares Roster's resource model to scimmy once per process: the User resource with the enterprise
 * and Roster HR extensions, and the Group resource. scimmy stays the source of truth for schema
 * definitions, coercion of request bodies and the discovery documents (/Schemas, /ResourceTypes).
 */
import SCIMMY from 'scimmy';
import { ROSTER_HR_SCHEMA } from './urns.js';

let declared = false;

export function rosterHrExtension(): InstanceType<typeof SCIMMY.Types.SchemaDefinition> {
  const { Attribute, SchemaDefinition } = SCIMMY.Types;
  return new SchemaDefinition('RosterHR', ROSTER_HR_SCHEMA, 'HR attributes Roster uses for access policy', [
    new Attribute('string', 'location', { description: 'Work location, e.g. "Berlin, DE".' }),
    new Attribute('string', 'employmentType', {
      description: 'Employment type from the HR system, e.g. Employee, Contractor, Intern.',
    }),
    new Attribute('dateTime', 'startDate', { description: 'First day of employment or contract.' }),
    new Attribute('dateTime', 'endDate', { description: 'Last day of employment or contract, if known.' }),
    new Attribute('string', 'hrStatus', { description: 'Status in the HR system, e.g. Active, Leave, Terminated.' }),
    new Attribute('string', 'personId', {
      mutable: 'immutable',
      caseExact: true,
      description: "The HR system's permanent identifier of the person; once set it never changes.",
    }),
  ]);
}

/** Idempotent: scimmy's registry is process-global, so declare exactly once. */
export function declareScimResources(): void {
  if (declared) return;
  declared = true;
  const userDefinition = SCIMMY.Schemas.User.definition;
  // scimmy ships empty canonical-value lists for these, which rejects every value Entra ID sends
  // (e.g. roles[].type "WindowsAzureActiveDirectoryRole"); RFC 7643 leaves them open.
  for (const path of ['roles.type', 'x509Certificates.type', 'entitlements.type']) {
    relaxCanonicalValues(userDefinition, path);
  }
  SCIMMY.Resources.declare(SCIMMY.Resources.User, {
    extensions: [
      { schema: SCIMMY.Schemas.EnterpriseUser, required: false },
      { schema: rosterHrExtension(), required: false },
    ],
  });
  // scimmy declares members.display immutable, but Roster writes it (the member's current name),
  // never the client: readOnly, as RFC 7643 §2.2 defines it (decision 0401).
  const display = SCIMMY.Schemas.Group.definition.attribute('members.display') as unknown as { config: { mutable: unknown } } | undefined;
  if (display) display.config.mutable = false;
  SCIMMY.Resources.declare(SCIMMY.Resources.Group, {});
}

function relaxCanonicalValues(definition: { attribute(path: string): unknown }, path: string): void {
  const attribute = definition.attribute(path) as { config: { canonicalValues: unknown } } | undefined;
  if (attribute) attribute.config.canonicalValues = false;
}
