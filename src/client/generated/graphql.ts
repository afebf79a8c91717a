/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** A date-time string at UTC, such as 2007-12-03T10:15:30Z, compliant with the `date-time` format outlined in section 5.6 of the RFC 3339 profile of the ISO 8601 standard for representation of dates and times using the Gregorian calendar.This scalar is serialized to a string in ISO 8601 format and parsed from a string in ISO 8601 format. */
  DateTimeISO: { input: string; output: string; }
};

/** Adds an existing account to the current tenant. */
export type AddMemberInput = {
  email: Scalars['String']['input'];
  role: MembershipRole;
};

/** A signed-in session: a short-lived access token (send as "Authorization: Bearer <token>") and a single-use refresh token to get the next pair with refreshToken. */
export type AuthPayload = {
  __typename?: 'AuthPayload';
  refreshToken: Scalars['String']['output'];
  token: Scalars['String']['output'];
  user: User;
};

export type CreateTenantInput = {
  /** 1–200 characters. */
  name: Scalars['String']['input'];
  /** 2–63 lower-case letters, digits or hyphens, not starting or ending with a hyphen; unique. */
  slug: Scalars['String']['input'];
};

export type LoginInput = {
  email: Scalars['String']['input'];
  password: Scalars['String']['input'];
};

/** A user's membership in the current tenant. */
export type Member = {
  __typename?: 'Member';
  joinedAt: Scalars['DateTimeISO']['output'];
  role: MembershipRole;
  user: User;
};

/** What a member may do in a tenant. Viewers only read. */
export type MembershipRole =
  /** Manages members (except owners) and deletes projects. */
  | 'ADMIN'
  /** Reads and writes projects, tasks and comments. */
  | 'MEMBER'
  /** Everything, including granting and revoking OWNER. */
  | 'OWNER'
  /** Reads only. */
  | 'VIEWER';

export type Mutation = {
  __typename?: 'Mutation';
  /** Owners and admins add an existing account by email. */
  addMember: Member;
  /** The last owner cannot be demoted. */
  changeMemberRole: Member;
  /** Creates a tenant with you as its owner. */
  createTenant: Tenant;
  login: AuthPayload;
  /** Revokes the sign-in this refresh token belongs to. */
  logout: Scalars['Boolean']['output'];
  /** Exchanges a refresh token for a new pair. Each refresh token works once: presenting it again signs out every session of that sign-in. */
  refreshToken: AuthPayload;
  /** Removes a member, or yourself (leaving). The last owner cannot be removed. */
  removeMember: Scalars['Boolean']['output'];
  /** Creates an account and signs it in. */
  signUp: AuthPayload;
  /** A session whose token is bound to this tenant: no tenant header needed. */
  switchTenant: AuthPayload;
};


export type MutationAddMemberArgs = {
  input: AddMemberInput;
};


export type MutationChangeMemberRoleArgs = {
  role: MembershipRole;
  userId: Scalars['ID']['input'];
};


export type MutationCreateTenantArgs = {
  input: CreateTenantInput;
};


export type MutationLoginArgs = {
  input: LoginInput;
};


export type MutationLogoutArgs = {
  refreshToken: Scalars['String']['input'];
};


export type MutationRefreshTokenArgs = {
  token: Scalars['String']['input'];
};


export type MutationRemoveMemberArgs = {
  userId: Scalars['ID']['input'];
};


export type MutationSignUpArgs = {
  input: SignUpInput;
};


export type MutationSwitchTenantArgs = {
  tenantId: Scalars['ID']['input'];
};

export type Query = {
  __typename?: 'Query';
  /** The tenant this request is for; null when the request names none. */
  currentTenant: Maybe<Tenant>;
  /** The signed-in user; null when anonymous. */
  me: Maybe<User>;
  /** Members of the current tenant. */
  members: Array<Member>;
  /** Every tenant you belong to. */
  myTenants: Array<Tenant>;
};

export type SignUpInput = {
  /** Stored trimmed and in lower case; unique. */
  email: Scalars['String']['input'];
  /** 1–200 characters. */
  name: Scalars['String']['input'];
  /** 10–256 characters, not the email address. */
  password: Scalars['String']['input'];
};

/** An organisation: every project, task and comment belongs to one. */
export type Tenant = {
  __typename?: 'Tenant';
  createdAt: Scalars['DateTimeISO']['output'];
  id: Scalars['ID']['output'];
  /** Your role in this tenant. */
  myRole: MembershipRole;
  name: Scalars['String']['output'];
  plan: TenantPlan;
  slug: Scalars['String']['output'];
  status: TenantStatus;
};

export type TenantPlan =
  | 'ENTERPRISE'
  | 'FREE'
  | 'PRO';

/** A suspended tenant answers TENANT_SUSPENDED to every operation that names it. */
export type TenantStatus =
  | 'ACTIVE'
  | 'SUSPENDED';

/** A person with an account. Email is visible to yourself and your tenants. */
export type User = {
  __typename?: 'User';
  createdAt: Scalars['DateTimeISO']['output'];
  email: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
};

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, email: string, name: string } | null };


export const MeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;