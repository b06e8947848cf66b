/**
 * What a connector profile decides: how a Roster User or Group maps to the target's document, and
 * which SCIM features and limits the target has. The generic profile follows RFC 7643/7644; an
 * app profile (AWS IAM Identity Center, …) encodes that app's documented deviations. Quirks live
 * here and nowhere else.
 */
export type Document = Record<string, unknown>;

export interface Profile {
  name: string;
  /** The desired remote User for a local one (`localId` becomes externalId: Roster is the client). */
  mapUser(resource: Document, localId: string): Document;
  /** Why the target would reject this mapped User, checked before anything is sent; undefined = fine. */
  checkUser(document: Document): string | undefined;
  mapGroup(resource: Document, localId: string): Document;
  /** How attribute changes are sent: PATCH of the changed paths, or PUT of the whole document. */
  userUpdate: 'patch' | 'put';
  /** Most membership changes in one request (create or PATCH). */
  membersPerRequest: number;
  /**
   * How a member is removed: one `remove` op with path `members[value eq "id"]` per member (RFC
   * 7644 §3.5.2.2), or one op with path `members` and a value array (what AWS documents).
   */
  memberRemoval: 'filter-path' | 'value-array';
  /** Whether GET /Groups/{id} returns the members, so reconciliation can read them back. */
  membersReadable: boolean;
  /** Whether a group may have groups as members on the target. */
  nestedGroups: boolean;
  /** Paging of list requests: RFC 7644 startIndex/count, or RFC 9865 cursors. */
  paging: 'index' | 'cursor';
  /** Largest page the target returns. */
  pageSize: number;
}
